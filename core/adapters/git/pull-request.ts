/**
 * What the three git hosts' pull (merge) request deliveries have in common: the actions that start a run, and
 * the one step that turns a pull request into a TriggerContext.
 */
import { clipText, type Provider, type TriggerContext } from "../../model/index.js";
import type { ParsedDelivery } from "../../ports.js";

// Display text chosen by whoever opens the pull request; stored with every run.
const AUTHOR_MAX_BYTES = 256;
const SHOWN_MAX_BYTES = 128;

/** A pull request, as each provider reads it from its own payload. */
export interface PullRequestFacts {
  provider: Provider;
  deliveryId: string;
  /** The host's action ("opened", "synchronize", GitLab's "open", …). */
  action: string;
  /** Whether this action means new code to build (opened, new commits, reopened). */
  builds: boolean;
  number: number;
  /** The base repository: where the pull request lives, its pipelines and its commit statuses. */
  repository: string;
  /** The head repository's clone URL (the base's when the head repository is gone). */
  cloneUrl: string;
  /** The head repository; undefined when the host no longer knows it (a deleted fork). */
  headRepository: string | undefined;
  /** The host's own word that the head is another repository, where it gives one (project or repository ids). */
  fromOtherRepository?: boolean;
  headBranch: string;
  headCommit: string;
  baseBranch: string;
  baseCommit?: string;
  /**
   * The head commit's message where the payload has it (GitLab); GitHub and Gitea send none, so it is empty and
   * ingest asks the host for it once a run would start (for `[skip ci]`, and for the tasks).
   */
  message: string;
  author: string;
  /** The ref the host keeps for the pull request's head: refs/pull/N/head, refs/merge-requests/N/head. */
  ref: string;
}

export function normalisePullRequest(pr: PullRequestFacts): ParsedDelivery {
  const { deliveryId } = pr;
  if (!pr.builds)
    return {
      kind: "ignored",
      deliveryId,
      reason: `pull request action "${clipText(pr.action, SHOWN_MAX_BYTES)}" starts nothing`,
    };
  const fork =
    pr.fromOtherRepository ??
    (pr.headRepository === undefined || pr.headRepository.toLowerCase() !== pr.repository.toLowerCase());
  const context: TriggerContext = {
    provider: pr.provider,
    event: "pull_request",
    repository: pr.repository,
    cloneUrl: pr.cloneUrl,
    ref: pr.ref,
    branch: pr.headBranch,
    commit: pr.headCommit,
    message: pr.message,
    author: clipText(pr.author, AUTHOR_MAX_BYTES),
    deliveryId,
    pullRequest: {
      number: pr.number,
      baseBranch: pr.baseBranch,
      ...(pr.baseCommit && { baseCommit: pr.baseCommit }),
      headRepository: pr.headRepository ?? "",
      // A head repository the host no longer names is no proof of anything: untrusted.
      fork: fork || pr.headRepository === undefined,
    },
  };
  return { kind: "trigger", deliveryId, context };
}

/** A pull request as GitHub's payload carries it, and Gitea's after it (which adds repository ids). */
export interface HubPullRequest {
  action: string;
  number: number;
  pull_request: {
    /** `repo` is null (or, in Gitea's, absent) when the head repository was deleted. */
    head: { ref: string; sha: string; repo?: { full_name: string; clone_url: string } | null };
    base: { ref: string; sha: string };
  };
  repository: { full_name: string; clone_url: string };
  sender: { login: string };
}

/** GitHub's or Gitea's pull request; `fromOtherRepository` where the payload says so by repository ids. */
export function normaliseHubPullRequest(
  provider: "github" | "gitea",
  deliveryId: string,
  event: HubPullRequest,
  buildingActions: ReadonlySet<string>,
  fromOtherRepository?: boolean,
): ParsedDelivery {
  const { head, base } = event.pull_request;
  return normalisePullRequest({
    provider,
    deliveryId,
    action: event.action,
    builds: buildingActions.has(event.action),
    number: event.number,
    repository: event.repository.full_name,
    // A deleted fork's commits stay fetchable from the base repository, under refs/pull/N/head.
    cloneUrl: head.repo?.clone_url ?? event.repository.clone_url,
    headRepository: head.repo?.full_name,
    ...(fromOtherRepository !== undefined && { fromOtherRepository }),
    headBranch: head.ref,
    headCommit: head.sha,
    baseBranch: base.ref,
    baseCommit: base.sha,
    message: "",
    author: event.sender.login,
    ref: `refs/pull/${event.number}/head`,
  });
}
