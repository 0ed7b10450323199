import { PermanentError } from "../../errors.js";
import type { CommitStatus } from "../../ports.js";
import type { OutgoingRequest } from "../notify/http.js";

/**
 * Gitea's "create a commit status" (POST /api/v1/repos/{owner}/{repo}/statuses/{sha}, answered 201; the API
 * description's CreateStatusOption: state, target_url, description, context). Its states include ours (pending,
 * success, error, failure, warning); Gitea keeps the latest status per context, so a repeat is harmless.
 */
export function giteaStatusRequest(status: CommitStatus, token: string, baseUrl: string): OutgoingRequest {
  const [owner, repo, ...rest] = status.repository.split("/");
  if (!owner || !repo || rest.length > 0)
    throw new PermanentError(`Gitea repository "${status.repository}" is not owner/name`);
  const path = `/api/v1/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${encodeURIComponent(status.commit)}`;
  return {
    url: `${baseUrl.replace(/\/+$/, "")}${path}`,
    headers: {
      accept: "application/json",
      authorization: `token ${token}`,
      "content-type": "application/json; charset=utf-8",
    },
    body: JSON.stringify({
      state: status.state,
      target_url: status.targetUrl,
      description: status.description,
      context: status.context,
    }),
  };
}
