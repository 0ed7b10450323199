import { PermanentError } from "../../errors.js";
import type { CommitStatus } from "../../ports.js";
import type { HttpReply, OutgoingRequest, ServiceRefusal } from "../notify/http.js";
import { clipChars } from "../notify/view.js";

/**
 * GitHub's "create a commit status" (POST /repos/{owner}/{repo}/statuses/{sha}, answered 201). Its states are
 * ours (pending, success, failure, error); a description over 140 characters is refused with 422.
 */

export const GITHUB_API_URL = "https://api.github.com";
export const GITHUB_API_VERSION = "2022-11-28";
export const GITHUB_DESCRIPTION_CHARS = 140;

export function githubStatusRequest(
  status: CommitStatus,
  token: string,
  apiUrl = GITHUB_API_URL,
): OutgoingRequest {
  const [owner, repo, ...rest] = status.repository.split("/");
  if (!owner || !repo || rest.length > 0)
    throw new PermanentError(`GitHub repository "${status.repository}" is not owner/name`);
  const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${encodeURIComponent(status.commit)}`;
  return {
    url: `${apiUrl.replace(/\/+$/, "")}${path}`,
    headers: {
      accept: "application/vnd.github+json",
      authorization: `Bearer ${token}`,
      "content-type": "application/json; charset=utf-8",
      "x-github-api-version": GITHUB_API_VERSION,
      // GitHub refuses requests without a User-Agent.
      "user-agent": "hookflow",
    },
    body: JSON.stringify({
      state: status.state,
      target_url: status.targetUrl,
      description: clipChars(status.description, GITHUB_DESCRIPTION_CHARS),
      context: status.context,
    }),
  };
}

/**
 * GitHub's rate limits answer 403 (or 429) with `x-ratelimit-remaining: 0` and the reset time in epoch
 * seconds, or with Retry-After for the secondary limits: worth retrying, unlike any other 403.
 */
export function githubRefusal(reply: HttpReply, nowMs: number): ServiceRefusal | undefined {
  if (reply.status !== 403) return undefined;
  const retryAfter = reply.headers.get("retry-after");
  const reset = Number(reply.headers.get("x-ratelimit-reset"));
  if (retryAfter && /^\d+$/.test(retryAfter.trim()))
    return {
      code: 403,
      message: "secondary rate limit",
      retryable: true,
      retryAfterSeconds: Number(retryAfter),
    };
  if (reply.headers.get("x-ratelimit-remaining") === "0")
    return {
      code: 403,
      message: "rate limit exceeded",
      retryable: true,
      ...(Number.isFinite(reset) &&
        reset > 0 && { retryAfterSeconds: Math.max(0, Math.ceil(reset - nowMs / 1000)) }),
    };
  return undefined;
}
