import * as z from "zod/mini";
import { schema } from "../../model/schema.js";
import type { ParsedDelivery, WebhookProvider } from "../../ports.js";
import { normaliseHubPullRequest } from "./pull-request.js";
import {
  CommitSha,
  deliveryId,
  header,
  ignoredEvent,
  normalisePush,
  PushCommit,
  parseJsonBody,
  requireHeader,
  validatePayload,
  ZERO_SHA,
} from "./push.js";
import { hmacSha256Hex, secretsEqual } from "./signature.js";

/**
 * The fields of a Gitea `push` delivery that hookflow reads. Tags arrive as pushes too (with a separate
 * `create` event, which is ignored): no commits listed, the tagged commit as head_commit, and `after` naming
 * the tag object for an annotated tag. Gogs, and Gitea before head_commit existed, send no head_commit: the
 * head is then the listed commit named by `after` (the lists are newest first). Gogs names its headers
 * X-Gogs-*, with the same signature; Gitea sends both.
 */
const GiteaPush = /* @__PURE__ */ schema(() =>
  z.object({
    ref: z.string(),
    after: CommitSha,
    repository: z.object({ full_name: z.string(), clone_url: z.string() }),
    head_commit: z.nullish(PushCommit),
    /** Newest first, cut to the instance's FEED_MAX_COMMIT_NUM; total_commits says how many there were. */
    commits: z.nullish(z.array(PushCommit)),
    total_commits: z.optional(z.int().check(z.nonnegative())),
    pusher: z.object({ login: z.string() }),
  }),
);

const GiteaBranch = /* @__PURE__ */ schema(() =>
  z.object({
    ref: z.string(),
    sha: CommitSha,
    repo_id: z.int(),
    /** Absent or null when the head repository was deleted. */
    repo: z.nullish(z.object({ full_name: z.string(), clone_url: z.string() })),
  }),
);

/** The fields of a Gitea `pull_request` delivery that hookflow reads (Gitea's api.PullRequestPayload). */
const GiteaPullRequest = /* @__PURE__ */ schema(() =>
  z.object({
    action: z.string(),
    number: z.int().check(z.positive()),
    pull_request: z.object({ head: GiteaBranch, base: GiteaBranch }),
    repository: z.object({ full_name: z.string(), clone_url: z.string() }),
    sender: z.object({ login: z.string() }),
  }),
);

/**
 * Gitea names the event `pull_request` in X-Gitea-Event for every pull request action (X-Gitea-Event-Type says
 * `pull_request_sync` for new commits); a hook set up for "synchronized" alone may still send the latter name.
 */
const PULL_REQUEST_EVENTS = new Set(["pull_request", "pull_request_sync"]);
const BUILDING_ACTIONS = new Set(["opened", "synchronized", "reopened"]);

export const giteaWebhooks: WebhookProvider = {
  provider: "gitea",
  secretVariable: "HOOKFLOW_GITEA_SECRET",

  async verify(request, secret) {
    const signature = header(request, "x-gitea-signature") ?? header(request, "x-gogs-signature");
    // Gitea sends an empty signature when the hook has no secret; an empty secret must verify nothing.
    if (!secret || !signature || typeof request.body !== "string") return false;
    return secretsEqual(signature, hmacSha256Hex(request.body, secret));
  },

  parse(request) {
    const id = deliveryId(request, ["x-gitea-delivery", "x-gogs-delivery"]);
    const event = requireHeader(request, "x-gitea-event", "x-gogs-event");
    const body = parseJsonBody(request.body);
    if (PULL_REQUEST_EVENTS.has(event)) return parsePullRequest(id, body);
    if (event !== "push") return ignoredEvent(id, event);
    const push = validatePayload(GiteaPush, body, "Gitea push payload");
    const commits = push.commits ?? [];
    return normalisePush({
      provider: "gitea",
      deliveryId: id,
      ref: push.ref,
      deleted: push.after === ZERO_SHA,
      repository: push.repository.full_name,
      cloneUrl: push.repository.clone_url,
      after: push.after,
      headCommit: push.head_commit,
      commits,
      newestFirst: true,
      truncated: (push.total_commits ?? 0) > commits.length,
      pusher: push.pusher.login,
    });
  },
};

function parsePullRequest(id: string, body: unknown): ParsedDelivery {
  const event = validatePayload(GiteaPullRequest, body, "Gitea pull_request payload");
  const { head, base } = event.pull_request;
  return normaliseHubPullRequest("gitea", id, event, BUILDING_ACTIONS, head.repo_id !== base.repo_id);
}
