import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Hono } from "hono";
import { signedWebhookRequest } from "../../core/adapters/git/index.js";
import type { Provider } from "../../core/model/index.js";
import { SECRETS } from "./system.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "webhooks");

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
}

/** POSTs a correctly signed delivery to the webhook app, as the provider would. */
export function deliver(
  app: Hono,
  provider: Provider,
  payload: unknown,
  options: { deliveryId: string; event?: string; secret?: string; headers?: Record<string, string> },
) {
  const request = signedWebhookRequest(provider, payload, {
    secret: options.secret ?? SECRETS[provider],
    deliveryId: options.deliveryId,
    event: options.event,
  });
  return app.request(`/webhooks/${provider}`, {
    method: "POST",
    headers: { ...request.headers, ...options.headers },
    body: request.body,
  });
}

/**
 * `payload` with one more top-level field that no parser reads: another body, so another push rather than a
 * replay of the same bytes (which hookflow answers with the runs the first one made).
 */
export function distinctBody(payload: Record<string, unknown>, marker: string): Record<string, unknown> {
  return { ...payload, hookflow_test_marker: marker };
}
