import { accept, jsonBody, type Receiver, reject, sameSecret, startReceiver } from "./receiver.js";

/**
 * GitLab's commit status API: POST /api/v4/projects/:id/statuses/:sha with a PRIVATE-TOKEN header (401
 * otherwise), where :id is a numeric id or the URL-encoded path_with_namespace (a raw "/" in it does not match
 * the route: 404). States: pending, running, success, failed, canceled (400 otherwise). Like GitLab, it refuses
 * to move a pending or running status to the same state again: 400 "Cannot transition status via :enqueue from
 * :pending". Answers 201.
 */

export interface GitlabReceiverOptions {
  token?: string;
}

const PATH = /^\/api\/v4\/projects\/([^/]+)\/statuses\/([^/]+)$/;
const EVENTS: Record<string, string> = {
  pending: "enqueue",
  running: "run",
  success: "success",
  failed: "drop",
  canceled: "cancel",
};
const ACTIVE = new Set(["pending", "running"]);

export function startGitlabReceiver(options: GitlabReceiverOptions = {}): Promise<Receiver> {
  const token = options.token ?? "glpat-Qx7fN2kLm9Rv4TzW8bYc";
  const statuses = new Map<string, string>();
  return startReceiver({
    path: "",
    rateLimitReply: { status: 429, body: { message: "Retry later" }, headers: { "retry-after": "30" } },
    reset: () => statuses.clear(),
    judge(request) {
      const match = PATH.exec(request.rawPath);
      if (request.method !== "POST" || !match)
        return reject("unknown route", { status: 404, body: { error: "404 Not Found" } });
      if (!sameSecret(request.headers["private-token"] ?? "", token))
        return reject("bad token", { status: 401, body: { message: "401 Unauthorized" } });

      const body = jsonBody(request);
      const state = body?.state;
      if (typeof state !== "string" || !(state in EVENTS))
        return reject("invalid state", { status: 400, body: { error: "state does not have a valid value" } });
      const project = decodeURIComponent(match[1] ?? "");
      const name = typeof body?.name === "string" ? body.name : "default";
      const key = `${project}@${decodeURIComponent(match[2] ?? "")}#${name}`;
      const current = statuses.get(key);
      if (current !== undefined && ACTIVE.has(current) && current === state) {
        const event = EVENTS[state];
        return reject("same state again", {
          status: 400,
          body: {
            message: `Cannot transition status via :${event} from :${current} (Reason(s): Status cannot transition via "${event}")`,
          },
        });
      }
      statuses.set(key, state);
      return accept({
        status: 201,
        body: { status: state, name, target_url: body?.target_url, description: body?.description },
      });
    },
  });
}
