import type { CommitState } from "../../model/index.js";
import type { CommitStatus } from "../../ports.js";
import { type HttpReply, jsonOf, type OutgoingRequest } from "../notify/http.js";

/**
 * GitLab's "set the pipeline status of a commit" (POST /api/v4/projects/:id/statuses/:sha, answered 201).
 * `:id` is the project's numeric id or its URL-encoded path_with_namespace ("acme/web" → "acme%2Fweb").
 * Documented states: pending, running, success, failed, canceled; `name` (alias `context`) tells statuses apart.
 */

export const GITLAB_URL = "https://gitlab.com";

/**
 * hookflow reports "error" for a canceled run (see the engine's finishRun); GitLab has a state for exactly
 * that, while its "failed" would claim the code was at fault.
 */
export const GITLAB_STATES: Record<CommitState, string> = {
  pending: "pending",
  success: "success",
  failure: "failed",
  error: "canceled",
};

export function gitlabStatusRequest(
  status: CommitStatus,
  token: string,
  baseUrl = GITLAB_URL,
): OutgoingRequest {
  const project = encodeURIComponent(status.repository);
  return {
    url: `${baseUrl.replace(/\/+$/, "")}/api/v4/projects/${project}/statuses/${encodeURIComponent(status.commit)}`,
    headers: { "private-token": token, "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({
      state: GITLAB_STATES[status.state],
      name: status.context,
      target_url: status.targetUrl,
      description: status.description,
    }),
  };
}

/**
 * GitLab refuses to move a pending or running status to the state it is already in: 400 "Cannot transition
 * status via :enqueue from :pending". For a repeated report (a retry after a lost answer) that state is
 * exactly what was asked for, so the repeat has succeeded.
 */
export function gitlabAlreadyInState(reply: HttpReply, state: CommitState): boolean {
  if (reply.status !== 400) return false;
  const message = jsonOf(reply)?.message;
  const from =
    typeof message === "string"
      ? /Cannot transition status via :\w+ from :(\w+)/.exec(message)?.[1]
      : undefined;
  return from === GITLAB_STATES[state];
}
