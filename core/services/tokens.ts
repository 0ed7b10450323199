import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * Callback tokens, one per task attempt. A token is an HMAC of the attempt's Job name under a server secret:
 * unpredictable without the secret, different for every run, task and attempt, and derived again (never looked
 * up) when an attempt is resubmitted after a crash, so the Job and hookflow always agree on it. No token is
 * stored anywhere; a callback is checked by deriving the expected token and comparing in constant time.
 */
export class TaskTokens {
  constructor(private readonly secret: string) {
    if (secret.length < 16) throw new Error("the task token secret must be at least 16 characters");
  }

  tokenFor(jobName: string): string {
    return createHmac("sha256", this.secret).update(`task-token:${jobName}`).digest("base64url");
  }

  /** Whether `presented` is the token of `jobName`, compared in constant time whatever its length. */
  verify(jobName: string, presented: string): boolean {
    const digest = (text: string) => createHash("sha256").update(text).digest();
    return timingSafeEqual(digest(this.tokenFor(jobName)), digest(presented));
  }
}
