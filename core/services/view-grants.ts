import { createHmac, timingSafeEqual } from "node:crypto";
import type { Clock } from "../ports.js";
import { derivedKey } from "./people.js";

/** What a grant in a run page's link says, once checked. */
export type GrantCheck =
  | { kind: "valid"; expiresAt: string }
  | { kind: "expired"; expiredAt: string }
  | { kind: "invalid" };

const GRANT = /^([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * The view grant in every link hookflow sends (notifications, commit statuses): `?grant=<expiry>.<mac>`, an
 * HMAC-SHA256 of the run's id and the expiry (epoch seconds) under a key derived from HOOKFLOW_TOKEN_SECRET for
 * this purpose alone. It lets whoever holds the link see that one run's stages, tasks, statuses, durations and
 * failure, nothing more, until it expires; no store holds it, so one cannot be revoked but by rotating the
 * secret (which also ends every session).
 */
export class ViewGrants {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly clock: Clock,
    private readonly days: number,
  ) {
    this.key = derivedKey(secret, "view-grant");
  }

  /** The run's page with a grant that expires `days` from now. */
  link(publicUrl: string, runId: string): string {
    const expires = Math.floor(Date.parse(this.clock.now()) / 1000) + Math.round(this.days * 86_400);
    return `${publicUrl}/runs/${runId}?grant=${this.grant(runId, expires)}`;
  }

  grant(runId: string, expiresEpochSeconds: number): string {
    return `${expiresEpochSeconds}.${this.mac(runId, expiresEpochSeconds)}`;
  }

  /** Whether `grant` was made here for this run, and whether it still holds. Compared in constant time. */
  check(runId: string, grant: string): GrantCheck {
    const match = GRANT.exec(grant);
    if (!match) return { kind: "invalid" };
    const expires = Number(match[1]);
    const expected = Buffer.from(this.mac(runId, expires));
    const presented = Buffer.from(match[2] as string);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected))
      return { kind: "invalid" };
    const expiresAt = new Date(expires * 1000).toISOString();
    if (expires * 1000 <= Date.parse(this.clock.now())) return { kind: "expired", expiredAt: expiresAt };
    return { kind: "valid", expiresAt };
  }

  private mac(runId: string, expires: number): string {
    return createHmac("sha256", this.key).update(`run:${runId}:${expires}`).digest("base64url");
  }
}
