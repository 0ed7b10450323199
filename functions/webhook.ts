import type { MiddlewareHandler } from "hono";
import { handle } from "hono/aws-lambda";
import { MethodNotAllowedError, TooLargeError } from "../core/errors.js";
import { jsonStringBytes, WEBHOOK_BODY_LIMITS } from "../core/model/index.js";
import type { Logger } from "../core/ports.js";
import type { DeliveryIntake } from "../core/services/intake.js";
import { lazyHandler, WEBHOOK_STORES, webhookDeps } from "../core/wiring.js";
import { Hono, headersOf, installErrorHandler, limitBody } from "./http.js";

export interface WebhookDeps {
  intake: DeliveryIntake;
  log: Logger;
}

const streamedLimit = limitBody(WEBHOOK_BODY_LIMITS.server, "a delivery");

/**
 * WEBHOOK_BODY_LIMITS where it runs: on Lambda the body as the event carries it (already in memory, and within
 * Lambda's own limit), elsewhere the raw body, refused while it streams in.
 */
const deliveryLimit: MiddlewareHandler = async (c, next) => {
  const event = (c.env as { event?: { body?: string | null } } | undefined)?.event;
  if (!event) return streamedLimit(c, next);
  if (jsonStringBytes(event.body ?? "") > WEBHOOK_BODY_LIMITS.lambda)
    throw new TooLargeError(
      `deliveries are at most ${WEBHOOK_BODY_LIMITS.lambda} bytes as Lambda receives them (the body JSON-escaped)`,
    );
  await next();
};

/** `POST /webhooks/{github|gitlab|gitea}`: verify, normalise, start the matching pipelines. */
export function createWebhookApp(deps: WebhookDeps): Hono {
  const app = new Hono();
  installErrorHandler(app, deps.log);

  app.on(["GET", "PUT", "PATCH", "DELETE"], "/webhooks/:provider", (c) => {
    throw new MethodNotAllowedError(`${c.req.method} is not allowed; git hosts POST deliveries here`, [
      "POST",
    ]);
  });
  app.post("/webhooks/:provider", deliveryLimit, async (c) => {
    const request = { headers: headersOf(c), body: await c.req.text() };
    const result = await deps.intake.receive(c.req.param("provider"), request);
    if (result.outcome === "ignored")
      return c.json({ delivery: result.delivery, ignored: result.reason }, 200);
    const replayOf = result.outcome === "replayed" ? { replayOf: result.replayOf } : {};
    return c.json({ delivery: result.delivery, runs: result.runs, ...replayOf }, 202);
  });
  return app;
}

export const handler = lazyHandler(WEBHOOK_STORES, (base) => handle(createWebhookApp(webhookDeps(base))));
