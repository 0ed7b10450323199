import { PermanentError } from "../../errors.js";
import { LIMITS } from "../../model/index.js";
import type { GitHostApis, Logger, PullRequestDetails, PullRequestRef } from "../../ports.js";

/**
 * A pull request's details from its host's API. A provider without a configured API, or an answer the host
 * refuses for good (a token without the right, an answer over the byte bound), is "cannot say", logged: the
 * delivery then runs what it would run without them. A RetryableError passes, so the host redelivers.
 */
export function hostPullRequestDetails(hosts: GitHostApis, log?: Logger): PullRequestDetails {
  const ask = async <T>(pr: PullRequestRef, what: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      log?.warn(`pull request ${what} unknown`, {
        provider: pr.provider,
        repository: pr.repository,
        number: pr.number,
        error: error.message,
      });
      return undefined;
    }
  };
  return {
    async changedFiles(pr) {
      const api = hosts[pr.provider];
      // The most a `paths` filter matches against: a longer list would count as unknown there anyway.
      return (
        api && ask(pr, "files", () => api.pullRequestFiles(pr.repository, pr.number, LIMITS.changedFiles))
      );
    },
    async headMessage(pr, commit) {
      const api = hosts[pr.provider];
      return api && ask(pr, "head commit message", () => api.commitMessage(pr.repository, commit));
    },
  };
}
