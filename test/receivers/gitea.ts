import { accept, jsonBody, type Receiver, reject, sameSecret, startReceiver } from "./receiver.js";

/**
 * Gitea's commit statuses API, as its API description (swagger v1, "repoCreateStatus") states it:
 * POST /api/v1/repos/{owner}/{repo}/statuses/{sha}, authenticated by `Authorization: token <token>` (or
 * `Bearer`; 401 otherwise), a JSON body CreateStatusOption {context, description, state, target_url} where
 * state is one of pending|success|error|failure|warning (422 otherwise). Answers 201 with the CommitStatus.
 * This receiver is stricter than Gitea in one way: a field outside CreateStatusOption is refused, so that a
 * misspelled field fails the test instead of being ignored silently.
 */

export interface GiteaReceiverOptions {
  token?: string;
}

const PATH = /^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/statuses\/([^/]+)$/;
const STATES = new Set(["pending", "success", "error", "failure", "warning"]);
const FIELDS = new Set(["context", "description", "state", "target_url"]);

export function startGiteaReceiver(options: GiteaReceiverOptions = {}): Promise<Receiver> {
  const token = options.token ?? "gitea-token-5d1c9e0f";
  let id = 0;
  return startReceiver({
    path: "",
    rateLimitReply: { status: 429, body: { message: "rate limit" } },
    judge(request) {
      const match = PATH.exec(request.rawPath);
      if (request.method !== "POST" || !match)
        return reject("unknown route", { status: 404, body: { message: "Not Found" } });
      const authorization = request.headers.authorization ?? "";
      if (!sameSecret(authorization, `token ${token}`) && !sameSecret(authorization, `Bearer ${token}`))
        return reject("bad credentials", { status: 401, body: { message: "token is required" } });
      if (!(request.headers["content-type"] ?? "").startsWith("application/json"))
        return reject("not JSON", { status: 415, body: { message: "expected application/json" } });
      const sha = decodeURIComponent(match[3] ?? "");
      if (!/^[0-9a-f]{40}$/.test(sha))
        return reject("no such commit", { status: 404, body: { message: "sha not found" } });
      const body = jsonBody(request);
      if (!body) return reject("no body", { status: 422, body: { message: "invalid JSON" } });
      const unknown = Object.keys(body).filter((k) => !FIELDS.has(k));
      if (unknown.length > 0)
        return reject(`unknown fields ${unknown.join(", ")}`, { status: 422, body: { message: "unknown" } });
      if (typeof body.state !== "string" || !STATES.has(body.state))
        return reject("invalid state", { status: 422, body: { message: "[State]: invalid" } });
      for (const field of ["context", "description", "target_url"])
        if (body[field] !== undefined && typeof body[field] !== "string")
          return reject(`${field} is not a string`, { status: 422, body: { message: field } });
      id++;
      return accept({
        status: 201,
        body: {
          id,
          status: body.state,
          target_url: body.target_url ?? "",
          description: body.description ?? "",
          context: body.context ?? "",
        },
      });
    },
  });
}
