import type { DeliveryLedger } from "../../ports.js";
import { allOf, anyOf, itemAbsent, leaseEndedBefore, stateIs, update } from "./conditions.js";
import { KEYS, N, S, SCHEMA_ATTRIBUTE, SCHEMA_VERSION, schemaAttribute, TTL_ATTRIBUTE } from "./items.js";
import type { TableIO } from "./table-io.js";

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * Sent records: a key is claimed for a lease before sending and marked sent after, so each notification and
 * commit status goes out once. Versions 1 and 2 store them alike (the conditions read state and leaseUntil).
 */
export class SentLedger implements DeliveryLedger {
  constructor(
    private readonly io: TableIO,
    private readonly ttlSeconds: number,
  ) {}

  async claim(key: string, now: string, leaseSeconds: number): Promise<boolean> {
    const nowSeconds = seconds(now);
    const written = await this.io.put(
      {
        ...KEYS.sent(key),
        ...schemaAttribute(),
        state: S("claimed"),
        leaseUntil: N(nowSeconds + leaseSeconds),
        [TTL_ATTRIBUTE]: N(nowSeconds + this.ttlSeconds),
      },
      // Free, or claimed by a sender whose lease ran out (it died between claiming and sending).
      anyOf(itemAbsent, allOf(stateIs("claimed"), leaseEndedBefore(nowSeconds))),
    );
    return written.ok;
  }

  async complete(key: string, now: string): Promise<void> {
    await this.io.update(
      KEYS.sent(key),
      update(
        "SET #state = :sent, sentAt = :now, #schema = :schema",
        { "#state": "state", "#schema": SCHEMA_ATTRIBUTE },
        { ":sent": S("sent"), ":now": S(now), ":schema": N(SCHEMA_VERSION) },
      ),
    );
  }

  async release(key: string): Promise<void> {
    // Refused when the key was sent meanwhile: a sent record stays.
    await this.io.delete(KEYS.sent(key), stateIs("claimed"));
  }
}
