import { NotFoundError, UnauthorizedError } from "../errors.js";
import { Provider } from "../model/index.js";
import type { Logger, WebhookProvider, WebhookRequest } from "../ports.js";
import type { Ingested, IngestService } from "./ingest.js";

export interface DeliveryIntakeDeps {
  providers: Record<Provider, WebhookProvider>;
  /** Each provider's secret (GitLab: token); a provider without one refuses every delivery. */
  secrets: Partial<Record<Provider, string>>;
  ingest: IngestService;
  log: Logger;
}

/**
 * A git host's delivery as it arrived: the provider its path names (configured, or refused), its signature
 * checked before anything reads the body, then normalised and ingested. A valid delivery that starts nothing (a
 * ping, another event) is ignored with its reason.
 */
export class DeliveryIntake {
  constructor(private readonly deps: DeliveryIntakeDeps) {}

  async receive(providerName: string, request: WebhookRequest): Promise<Ingested> {
    const { provider, secret } = this.configured(providerName);
    if (!(await provider.verify(request, secret)))
      throw new UnauthorizedError(`signature or token does not match ${provider.secretVariable}`);
    const delivery = provider.parse(request);
    if (delivery.kind === "ignored")
      return { outcome: "ignored", delivery: delivery.deliveryId, reason: delivery.reason };
    const result = await this.deps.ingest.ingest(
      provider.provider,
      delivery.deliveryId,
      delivery.context,
      request.body,
    );
    if (result.outcome !== "ignored")
      this.deps.log.info("delivery accepted", {
        provider: provider.provider,
        delivery: result.delivery,
        outcome: result.outcome,
        runs: result.runs,
      });
    return result;
  }

  private configured(name: string): { provider: WebhookProvider; secret: string } {
    const parsed = Provider.safeParse(name);
    if (!parsed.success) throw new NotFoundError(`unknown provider "${name}"; one of github, gitlab, gitea`);
    const provider = this.deps.providers[parsed.data];
    const secret = this.deps.secrets[parsed.data];
    if (!secret)
      throw new UnauthorizedError(
        `${provider.provider} webhooks are not configured: set ${provider.secretVariable} to the secret given to ${provider.provider}`,
      );
    return { provider, secret };
  }
}
