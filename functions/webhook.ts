import { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { bodyLimit } from "hono/body-limit";
import { Provider } from "../core/model/index.js";
import type { Logger, WebhookProvider } from "../core/ports.js";
import type { IngestService } from "../core/services/ingest.js";
import { lazyHandler, webhookDeps } from "../core/wiring.js";
import { errorBody, headersOf, installErrorHandler } from "./http.js";

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

  app.on(["GET", "PUT", "PATCH", "DELETE"], "/webhooks/:provider", (c) =>
    c.json(errorBody(`${c.req.method} is not allowed; git hosts POST deliveries here`), 405, {
      Allow: "POST",
    }),
  );

  app.post(
    "/webhooks/:provider",
    bodyLimit({
      maxSize: MAX_WEBHOOK_BYTES,
      onError: (c) => c.json(errorBody(`deliveries are at most ${MAX_WEBHOOK_BYTES / 1024 / 1024} MB`), 413),
    }),
    async (c) => {
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
    },
  );
  return app;
}

export const handler = lazyHandler((base) => handle(createWebhookApp(webhookDeps(base))));
