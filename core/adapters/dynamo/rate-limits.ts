import type { RateLimiter } from "../../ports.js";
import { countBelow, update } from "./conditions.js";
import { KEYS, N, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, TTL_ATTRIBUTE } from "./items.js";
import type { TableIO } from "./table-io.js";

/** How long a window's counter is kept after it was last counted: longer than any window. */
const COUNTER_TTL_SECONDS = 3600;

/** Fixed-window counters, one item per (hashed key, window), counted with a conditional ADD. */
export class RateLimitRepository implements RateLimiter {
  constructor(private readonly io: TableIO) {}

  async acquire(
    key: string,
    limit: { max: number; perSeconds: number },
    now: string,
  ): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    const nowSeconds = Date.parse(now) / 1000;
    const window = Math.floor(nowSeconds / limit.perSeconds);
    const written = await this.io.update(
      KEYS.rate(key, window),
      update(
        "ADD #used :one SET #ttl = :ttl, #schema = :schema",
        { "#used": "used", "#ttl": TTL_ATTRIBUTE, "#schema": SCHEMA_ATTRIBUTE },
        {
          ":one": N(1),
          ":ttl": N(Math.ceil(nowSeconds) + COUNTER_TTL_SECONDS),
          ":schema": N(SCHEMA_VERSION),
        },
      ),
      countBelow(limit.max),
    );
    return written.ok
      ? { ok: true }
      : { ok: false, retryAfterSeconds: (window + 1) * limit.perSeconds - nowSeconds };
  }
}
