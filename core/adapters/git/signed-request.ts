import type { Provider } from "../../model/index.js";
import type { WebhookRequest } from "../../ports.js";
import { signGitea, signGithub } from "./signature.js";

export interface DeliveryOptions {
  /** The webhook secret (GitHub, Gitea) or token (GitLab). */
  secret: string;
  deliveryId: string;
  /** The provider's own event name; a push by default (for GitLab, a tag push when the payload is one). */
  event?: string;
}

/**
 * A delivery as the provider would send it: headers lowercase, signed or carrying the token. For tests, the
 * CLI demo and benchmarks, which need requests that pass verification.
 */
export function signedWebhookRequest(
  provider: Provider,
  payload: unknown,
  { secret, deliveryId, event }: DeliveryOptions,
): WebhookRequest {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const json = { "content-type": "application/json" };
  switch (provider) {
    case "github":
      return {
        body,
        headers: {
          ...json,
          "user-agent": "GitHub-Hookshot/hookflow",
          "x-github-event": event ?? "push",
          "x-github-delivery": deliveryId,
          "x-hub-signature-256": signGithub(body, secret),
        },
      };
    case "gitlab":
      return {
        body,
        headers: {
          ...json,
          "user-agent": "GitLab/hookflow",
          "x-gitlab-event": event ?? gitlabEventOf(payload),
          "x-gitlab-token": secret,
          "idempotency-key": deliveryId,
          "x-gitlab-event-uuid": deliveryId,
        },
      };
    case "gitea":
      return {
        body,
        headers: {
          ...json,
          "x-gitea-event": event ?? "push",
          "x-gitea-delivery": deliveryId,
          "x-gitea-signature": signGitea(body, secret),
        },
      };
  }
}

function gitlabEventOf(payload: unknown): string {
  const kind =
    typeof payload === "object" && payload !== null && "object_kind" in payload && payload.object_kind;
  return kind === "tag_push" ? "Tag Push Hook" : "Push Hook";
}
