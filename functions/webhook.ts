import { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { MethodNotAllowedError, NotFoundError, UnauthorizedError } from "../core/errors.js";
import { Provider } from "../core/model/index.js";
import type { Logger, WebhookProvider } from "../core/ports.js";
import type { IngestService } from "../core/services/ingest.js";
import { lazyHandler, webhookDeps } from "../core/wiring.js";
import { headersOf, installErrorHandler, limitBody } from "./http.js";

export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

export interface WebhookDeps {
  ingest: IngestService;
  providers: Record<Provider, WebhookProvider>;
  /** Each provider's secret (GitLab: token); a provider without one refuses every delivery. */
  secrets: Partial<Record<Provider, string>>;
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
    const { provider, secret } = configuredProvider(deps, c.req.param("provider"));
    const request = { headers: headersOf(c), body: await c.req.text() };
    if (!(await provider.verify(request, secret)))
      throw new UnauthorizedError(`signature or token does not match ${provider.secretVariable}`);
    const delivery = provider.parse(request);
    if (delivery.kind === "ignored")
      return c.json({ delivery: delivery.deliveryId, ignored: delivery.reason }, 200);
    const result = await deps.ingest.ingest(provider.provider, delivery.deliveryId, delivery.context);
    if (result.outcome === "ignored")
      return c.json({ delivery: result.delivery, ignored: result.reason }, 200);
    deps.log.info("delivery accepted", {
      provider: provider.provider,
      delivery: result.delivery,
      outcome: result.outcome,
      runs: result.runs,
    });
    return c.json({ delivery: result.delivery, runs: result.runs }, 202);
  });
  return app;
}

/** The provider a delivery's path names, with its secret: refused when it is none, or has no secret set. */
function configuredProvider(deps: WebhookDeps, name: string): { provider: WebhookProvider; secret: string } {
  const parsed = Provider.safeParse(name);
  if (!parsed.success) throw new NotFoundError(`unknown provider "${name}"; one of github, gitlab, gitea`);
  const provider = deps.providers[parsed.data];
  const secret = deps.secrets[parsed.data];
  if (!secret)
    throw new UnauthorizedError(
      `${provider.provider} webhooks are not configured: set ${provider.secretVariable} to the secret given to ${provider.provider}`,
    );
  return { provider, secret };
}

export const handler = lazyHandler((base) => handle(createWebhookApp(webhookDeps(base))));
