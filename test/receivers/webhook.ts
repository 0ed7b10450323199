import { createHmac } from "node:crypto";
import { accept, jsonBody, type Receiver, reject, sameSecret, startReceiver } from "./receiver.js";

/**
 * A receiver of hookflow's generic webhook, verifying the way hookflow's documentation tells its users to:
 * X-Hookflow-Signature-256 must be "sha256=" + hex HMAC-SHA256(secret, the raw body bytes), else 401.
 * Accepts with 204 (no body), so tests also show that any 2xx counts.
 */

export interface WebhookReceiverOptions {
  secret?: string;
  path?: string;
}

export function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<Receiver> {
  const path = options.path ?? "/hooks/hookflow";
  return startReceiver({
    path,
    rateLimitReply: { status: 429, body: "slow down", headers: { "retry-after": "3" } },
    judge(request) {
      if (request.method !== "POST" || request.path !== path) return reject("unknown path", { status: 404 });
      if (options.secret) {
        const received = request.headers["x-hookflow-signature-256"] ?? "";
        const expected = `sha256=${createHmac("sha256", options.secret).update(request.rawBody).digest("hex")}`;
        if (!sameSecret(received, expected))
          return reject("signature mismatch", { status: 401, body: "bad signature" });
      }
      const body = jsonBody(request);
      if (body?.hookflow !== 1) return reject("not a hookflow payload", { status: 400, body: "bad payload" });
      return accept({ status: 204 });
    },
  });
}
