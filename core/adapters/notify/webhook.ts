import type { RunNotice } from "../../ports.js";
import { type Channel, JSON_HEADERS } from "./channel.js";
import { webhookSignature } from "./signing.js";

/**
 * hookflow's generic webhook: the notice itself as JSON, marked with the payload's version, signed with
 * `X-Hookflow-Signature-256: sha256=<hex HMAC-SHA256 of the body>` when the target has a secret. Any 2xx is
 * success; the answer's body is never quoted (the sender records a failure as its HTTP status only).
 */

export const WEBHOOK_PAYLOAD_VERSION = 1;
export const SIGNATURE_HEADER = "x-hookflow-signature-256";
export const EVENT_HEADER = "x-hookflow-event";

/** The exact bytes that are sent, and signed. */
export function renderWebhook(notice: RunNotice): string {
  return JSON.stringify({ hookflow: WEBHOOK_PAYLOAD_VERSION, ...notice });
}

export const webhook: Channel = {
  request(target, notice) {
    const body = renderWebhook(notice);
    const headers: Record<string, string> = { ...JSON_HEADERS, [EVENT_HEADER]: notice.event };
    if (target.secret) headers[SIGNATURE_HEADER] = webhookSignature(target.secret, body);
    return { url: target.url, body, headers };
  },
  refusal: () => undefined,
};
