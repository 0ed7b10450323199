import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { jobNameFor } from "../engine/index.js";
import type { RunStore } from "../ports.js";

/** One attempt of one task of one run: what a callback token is bound to. */
export interface AttemptRef {
  runId: string;
  task: string;
  attempt: number;
}

/**
 * Callback tokens, one per task attempt. A token is an HMAC of the attempt's run id, task and attempt under a
 * server secret: unpredictable without the secret, bound to exactly that attempt (not to a shortened hash of
 * it), and derived again (never looked up) when an attempt is resubmitted after a crash, so the Job and hookflow
 * always agree on it. No token is stored anywhere; a callback is checked by deriving the expected token and
 * comparing in constant time.
 *
 * The previous release derived a token from the attempt's Job name, which carries 40 bits of a hash of run and
 * task. Its runs (those without `tokens: "attempt"`) keep being accepted with that form until none is active
 * (decision 4, docs/decisions.md); no other run accepts it.
 */
export class TaskTokens {
  constructor(
    private readonly secret: string,
    private readonly runs?: Pick<RunStore, "getRun">,
  ) {
    if (secret.length < 16) throw new Error("the task token secret must be at least 16 characters");
  }

  tokenFor(ref: AttemptRef): string {
    return createHmac("sha256", this.secret)
      .update(`task-token/attempt:${ref.runId}\0${ref.task}\0${ref.attempt}`)
      .digest("base64url");
  }

  /** The previous release's token of the attempt: an HMAC of its Job name. */
  previousReleaseTokenFor(ref: AttemptRef): string {
    return createHmac("sha256", this.secret)
      .update(`task-token:${jobNameFor(ref.runId, ref.task, ref.attempt)}`)
      .digest("base64url");
  }

  /**
   * Whether `presented` is the token of this attempt, compared in constant time whatever its length. The
   * previous release's form is accepted only for a run that release created, which costs a read of the run.
   */
  async verify(ref: AttemptRef, presented: string): Promise<boolean> {
    if (sameToken(this.tokenFor(ref), presented)) return true;
    if (!this.runs || !sameToken(this.previousReleaseTokenFor(ref), presented)) return false;
    const run = await this.runs.getRun(ref.runId);
    return run !== undefined && run.tokens === undefined;
  }
}

function sameToken(expected: string, presented: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(expected), digest(presented));
}
