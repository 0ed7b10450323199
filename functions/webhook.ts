import { type Context, Hono, type MiddlewareHandler } from "hono";
import { handle } from "hono/aws-lambda";
import { bodyLimit } from "hono/body-limit";
import { jsonStringBytes, Provider, WEBHOOK_BODY_LIMITS } from "../core/model/index.js";
import type { Logger, WebhookProvider } from "../core/ports.js";
import type { IngestService } from "../core/services/ingest.js";
import { lazyHandler, webhookDeps } from "../core/wiring.js";
import { errorBody, headersOf, installErrorHandler } from "./http.js";

export interface WebhookDeps {
  ingest: IngestService;
  providers: Record<Provider, WebhookProvider>;
  /** Each provider's secret (GitLab: token); a provider without one refuses every delivery. */
  secrets: Partial<Record<Provider, string>>;
  log: Logger;
}

const tooLarge = (c: Context, limit: number, counted = "") =>
  c.json(errorBody(`deliveries are at most ${limit} bytes${counted}`), 413);
const streamedLimit = bodyLimit({
  maxSize: WEBHOOK_BODY_LIMITS.server,
  onError: (c) => tooLarge(c, WEBHOOK_BODY_LIMITS.server),
});

/**
 * WEBHOOK_BODY_LIMITS where it runs: on Lambda the body as the event carries it (already in memory, and within
 * Lambda's own limit), elsewhere the raw body, refused while it streams in.
 */
const deliveryLimit: MiddlewareHandler = async (c, next) => {
  const event = (c.env as { event?: { body?: string | null } } | undefined)?.event;
  if (!event) return streamedLimit(c, next);
  if (jsonStringBytes(event.body ?? "") > WEBHOOK_BODY_LIMITS.lambda)
    return tooLarge(c, WEBHOOK_BODY_LIMITS.lambda, " as Lambda receives them (the body JSON-escaped)");
  await next();
};

/** `POST /webhooks/{github|gitlab|gitea}`: verify, normalise, start the matching pipelines. */
export function createWebhookApp(deps: WebhookDeps): Hono {
  const app = new Hono();
  installErrorHandler(app, deps.log);

  app.on(["GET", "PUT", "PATCH", "DELETE"], "/webhooks/:provider", (c) =>
    c.json(errorBody(`${c.req.method} is not allowed; git hosts POST deliveries here`), 405, {
      Allow: "POST",
    }),
  );

  app.post("/webhooks/:provider", deliveryLimit, async (c) => {
    const parsedProvider = Provider.safeParse(c.req.param("provider"));
    if (!parsedProvider.success)
      return c.json(
        errorBody(`unknown provider "${c.req.param("provider")}"; one of github, gitlab, gitea`),
        404,
      );
    const provider = deps.providers[parsedProvider.data];
    const secret = deps.secrets[parsedProvider.data];
    if (!secret)
      return c.json(
        errorBody(
          `${provider.provider} webhooks are not configured: set ${provider.secretVariable} to the secret given to ${provider.provider}`,
        ),
        401,
      );
    const request = { headers: headersOf(c), body: await c.req.text() };
    if (!(await provider.verify(request, secret)))
      return c.json(errorBody(`signature or token does not match ${provider.secretVariable}`), 401);

    const delivery = provider.parse(request);
    if (delivery.kind === "ignored")
      return c.json({ delivery: delivery.deliveryId, ignored: delivery.reason }, 200);
    const result = await deps.ingest.ingest(
      provider.provider,
      delivery.deliveryId,
      delivery.context,
      request.body,
    );
    if (result.outcome === "ignored")
      return c.json({ delivery: result.delivery, ignored: result.reason }, 200);
    deps.log.info("delivery accepted", {
      provider: provider.provider,
      delivery: result.delivery,
      outcome: result.outcome,
      runs: result.runs,
    });
    return c.json(
      {
        delivery: result.delivery,
        runs: result.runs,
        ...(result.outcome === "replayed" && { replayOf: result.replayOf }),
      },
      202,
    );
  });
  return app;
}

export const handler = lazyHandler((base) => handle(createWebhookApp(webhookDeps(base))));
