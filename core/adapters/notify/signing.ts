import { createHmac } from "node:crypto";

/*
 * The three signatures side by side, because the first two are easy to confuse: Feishu and DingTalk build the
 * same string, timestamp + "\n" + secret, but Feishu uses it as the HMAC *key* over an empty message, while
 * DingTalk uses the secret as the key and that string as the message.
 */

export function hmacSha256(key: string, message: string): Buffer {
  return createHmac("sha256", Buffer.from(key, "utf8")).update(message, "utf8").digest();
}

/**
 * Feishu/Lark custom bot: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")), with the
 * timestamp in seconds; sent as `timestamp` (a string) and `sign` in the JSON body.
 */
export function feishuSign(secret: string, timestampSeconds: number): string {
  return hmacSha256(`${timestampSeconds}\n${secret}`, "").toString("base64");
}

/**
 * DingTalk custom robot: base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)), with the
 * timestamp in milliseconds; sent as the `timestamp` and `sign` query parameters, URL-encoded (the caller's
 * URLSearchParams does that, so this returns the plain base64).
 */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return hmacSha256(secret, `${timestampMs}\n${secret}`).toString("base64");
}

/** hookflow's generic webhook: `sha256=` + hex HMAC-SHA256 of the exact body bytes, keyed by the secret. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${hmacSha256(secret, body).toString("hex")}`;
}
