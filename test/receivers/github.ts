import { accept, jsonBody, type Receiver, reject, sameSecret, startReceiver } from "./receiver.js";

/**
 * GitHub's commit statuses API: POST /repos/{owner}/{repo}/statuses/{sha} with `Authorization: Bearer <token>`
 * (401 "Bad credentials" otherwise), a supported X-GitHub-Api-Version (400 otherwise), a User-Agent (403
 * otherwise), and a body whose state is pending|success|failure|error and whose description is at most 140
 * characters (422 "Validation Failed" otherwise). Answers 201 with the created status.
 */

export interface GithubReceiverOptions {
  token?: string;
}

const PATH = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([^/]+)$/;
const STATES = new Set(["pending", "success", "failure", "error"]);

export function startGithubReceiver(options: GithubReceiverOptions = {}): Promise<Receiver> {
  const token = options.token ?? "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
  let id = 0;
  return startReceiver({
    path: "",
    rateLimitReply: {
      status: 403,
      body: { message: "API rate limit exceeded" },
      headers: {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 60),
      },
    },
    judge(request) {
      const match = PATH.exec(request.rawPath);
      if (request.method !== "POST" || !match)
        return reject("unknown route", { status: 404, body: { message: "Not Found" } });
      const authorization = request.headers.authorization ?? "";
      if (!sameSecret(authorization, `Bearer ${token}`))
        return reject("bad credentials", { status: 401, body: { message: "Bad credentials" } });
      if (!request.headers["user-agent"])
        return reject("no user agent", { status: 403, body: { message: "no UA" } });
      const version = request.headers["x-github-api-version"];
      if (version !== undefined && version !== "2022-11-28")
        return reject("unsupported API version", {
          status: 400,
          body: { message: `API version ${version} is not supported.` },
        });

      const sha = decodeURIComponent(match[3] ?? "");
      if (!/^[0-9a-f]{40}$/.test(sha))
        return reject("no such commit", {
          status: 422,
          body: { message: `No commit found for SHA: ${sha}` },
        });
      const body = jsonBody(request);
      if (!body || typeof body.state !== "string" || !STATES.has(body.state))
        return reject("invalid state", invalid("state", "state is not included in the list"));
      if (typeof body.description === "string" && [...body.description].length > 140)
        return reject(
          "description too long",
          invalid("description", "description is too long (maximum is 140 characters)"),
        );
      id++;
      return accept({
        status: 201,
        body: {
          id,
          state: body.state,
          description: body.description,
          target_url: body.target_url,
          context: body.context ?? "default",
        },
      });
    },
  });
}

function invalid(field: string, message: string) {
  return {
    status: 422,
    body: { message: "Validation Failed", errors: [{ resource: "Status", code: "custom", field, message }] },
  };
}
