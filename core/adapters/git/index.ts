import type { Provider } from "../../model/index.js";
import type { WebhookProvider } from "../../ports.js";
import { giteaWebhooks } from "./gitea.js";
import { githubWebhooks } from "./github.js";
import { gitlabWebhooks } from "./gitlab.js";

export const webhookProviders: Record<Provider, WebhookProvider> = {
  github: githubWebhooks,
  gitlab: gitlabWebhooks,
  gitea: giteaWebhooks,
};

export { giteaWebhooks } from "./gitea.js";
export { githubWebhooks } from "./github.js";
export { gitlabWebhooks } from "./gitlab.js";
export { signGitea, signGithub } from "./signature.js";
export { type DeliveryOptions, signedWebhookRequest } from "./signed-request.js";
