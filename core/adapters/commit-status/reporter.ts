import type { Provider } from "../../model/index.js";
import type { Clock, CommitStatus, CommitStatusReporter } from "../../ports.js";
import { deliver, type Fetch, fetchSend, type HttpReply, hostOf } from "../notify/http.js";
import { systemClock } from "../system.js";
import { giteaStatusRequest } from "./gitea.js";
import { GITHUB_API_URL, githubRefusal, githubStatusRequest } from "./github.js";
import { GITLAB_URL, gitlabAlreadyInState, gitlabStatusRequest } from "./gitlab.js";

export interface CommitStatusReporterOptions {
  githubToken?: string;
  gitlabToken?: string;
  /** For GitHub Enterprise Server: https://host/api/v3. */
  githubApiUrl?: string;
  /** The GitLab instance's base URL (without /api/v4). */
  gitlabApiUrl?: string;
  /** Gitea has no public instance: statuses go to Gitea only when both its URL (without /api/v1) and token are set. */
  giteaToken?: string;
  giteaUrl?: string;
  fetch?: Fetch;
  timeoutMs?: number;
  clock?: Clock;
}

export interface ProviderAwareCommitStatusReporter extends CommitStatusReporter {
  /**
   * Whether statuses for this provider go anywhere: a token is configured and the provider is supported.
   * The engine may skip the effect when false; `report` for such a provider resolves without a request.
   */
  enabledFor(provider: Provider): boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * Reports commit statuses to GitHub, GitLab and Gitea. Throws RetryableError (network, timeout, 429, 5xx, GitHub's
 * rate limits) or PermanentError (a bad token, an unknown repository or commit, a refused field). Safe to call
 * twice: GitHub keeps the latest status per context, and GitLab's refusal of a repeated state counts as done.
 */
export function createCommitStatusReporter(
  options: CommitStatusReporterOptions = {},
): ProviderAwareCommitStatusReporter {
  const send = fetchSend(options.fetch ?? globalThis.fetch);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  const tokens: Partial<Record<Provider, string>> = {
    ...(options.githubToken && { github: options.githubToken }),
    ...(options.gitlabToken && { gitlab: options.gitlabToken }),
    ...(options.giteaToken && options.giteaUrl && { gitea: options.giteaToken }),
  };

  return {
    enabledFor: (provider) => tokens[provider] !== undefined,

    async report(status: CommitStatus): Promise<void> {
      const token = tokens[status.provider];
      if (token === undefined) return;
      const nowMs = Date.parse(clock.now());
      const github = status.provider === "github";
      const request = github
        ? githubStatusRequest(status, token, options.githubApiUrl ?? GITHUB_API_URL)
        : status.provider === "gitea"
          ? giteaStatusRequest(status, token, options.giteaUrl as string)
          : gitlabStatusRequest(status, token, options.gitlabApiUrl ?? GITLAB_URL);
      await deliver(request, {
        send,
        timeoutMs,
        nowMs,
        target: `${status.provider} commit status at ${hostOf(request.url)}`,
        // The API URL carries no credential; the token travels in a header.
        secrets: [token],
        ...(github
          ? { refusal: (reply: HttpReply) => githubRefusal(reply, nowMs) }
          : status.provider === "gitlab"
            ? { accepts: (reply: HttpReply) => gitlabAlreadyInState(reply, status.state) }
            : {}),
      });
    },
  };
}
