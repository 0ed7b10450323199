import { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { MethodNotAllowedError } from "../core/errors.js";
import type { Logger } from "../core/ports.js";
import type { DeliveryIntake } from "../core/services/intake.js";
import { lazyHandler, webhookDeps } from "../core/wiring.js";
import { headersOf, installErrorHandler, limitBody } from "./http.js";

export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

export interface WebhookDeps {
  intake: DeliveryIntake;
  log: Logger;
}

/** `POST /webhooks/{github|gitlab|gitea}`: verify, normalise, start the matching pipelines. */
export function createWebhookApp(deps: WebhookDeps): Hono {
  const app = new Hono();
  installErrorHandler(app, deps.log);

  app.on(["GET", "PUT", "PATCH", "DELETE"], "/webhooks/:provider", (c) => {
    throw new MethodNotAllowedError(`${c.req.method} is not allowed; git hosts POST deliveries here`, [
      "POST",
    ]);
  });
  app.post("/webhooks/:provider", limitBody(MAX_WEBHOOK_BYTES, "a delivery"), async (c) => {
    const request = { headers: headersOf(c), body: await c.req.text() };
    const result = await deps.intake.receive(c.req.param("provider"), request);
    return result.outcome === "ignored"
      ? c.json({ delivery: result.delivery, ignored: result.reason }, 200)
      : c.json({ delivery: result.delivery, runs: result.runs }, 202);
  });
  return app;
}

export const handler = lazyHandler((base) => handle(createWebhookApp(webhookDeps(base))));
