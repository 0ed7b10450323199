import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** Hex HMAC-SHA256 of `body`: Gitea's X-Gitea-Signature, and GitHub's after its `sha256=` prefix. */
export function hmacSha256Hex(body: string, secret: string): string {
  return createHmac("sha256", secret).update(body, "utf8").digest("hex");
}

/**
 * Whether two secrets (or signatures) are equal, in time that depends on neither. Comparing SHA-256 digests
 * gives timingSafeEqual the equal lengths it needs without revealing the expected length.
 */
export function secretsEqual(received: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(received), digest(expected));
}

/** The X-Hub-Signature-256 header GitHub sends with `body`. */
export function signGithub(body: string, secret: string): string {
  return `sha256=${hmacSha256Hex(body, secret)}`;
}

/** The X-Gitea-Signature header Gitea sends with `body`. */
export function signGitea(body: string, secret: string): string {
  return hmacSha256Hex(body, secret);
}
