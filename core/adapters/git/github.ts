import type { EmitterWebhookEvent } from "@octokit/webhooks";
// The verification octokit's Webhooks class binds to its secret, imported alone: the class brings its event
// emitter, middleware and logger into the webhook's start, and none of them is used.
import { verify as verifyGithubSignature } from "@octokit/webhooks-methods";
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

/** The fields of a GitHub `push` delivery that hookflow reads; the rest of the (large) payload is ignored. */
const GithubPush = /* @__PURE__ */ schema(() =>
  z.object({
    ref: z.string(),
    after: CommitSha,
    deleted: z.optional(z.boolean()),
    repository: z.object({ full_name: z.string(), clone_url: z.string() }),
    /** Null when the ref was deleted; for an annotated tag, the tagged commit (`after` is the tag object). */
    head_commit: z.nullish(PushCommit),
    commits: z.nullish(z.array(PushCommit)),
    pusher: z.object({ name: z.string() }),
  }),
);

/** The fields of a GitHub `pull_request` delivery that hookflow reads. */
const GithubPullRequest = /* @__PURE__ */ schema(() =>
  z.object({
    action: z.string(),
    number: z.int().check(z.positive()),
    pull_request: z.object({
      head: z.object({
        ref: z.string(),
        sha: CommitSha,
        /** Null when the head repository (a fork) was deleted. */
        repo: z.nullable(z.object({ full_name: z.string(), clone_url: z.string() })),
      }),
      base: z.object({ ref: z.string(), sha: CommitSha, repo: z.object({ full_name: z.string() }) }),
    }),
    repository: z.object({ full_name: z.string(), clone_url: z.string() }),
    sender: z.object({ login: z.string() }),
  }),
);

/**
 * The schemas above validate untrusted bodies; octokit's event types (generated from GitHub's own webhook
 * description) prove at compile time that every payload GitHub documents passes them, field by field.
 */
type Accepts<Schema extends z.ZodMiniType, Payload> = Payload extends z.input<Schema> ? true : never;
const githubTypesAgree: [
  Accepts<typeof GithubPush, EmitterWebhookEvent<"push">["payload"]>,
  Accepts<typeof GithubPullRequest, EmitterWebhookEvent<"pull_request">["payload"]>,
] = [true, true];
void githubTypesAgree;

/** The actions that bring code to build: a new pull request, new commits on it, one reopened. */
const BUILDING_ACTIONS = new Set(["opened", "synchronize", "reopened"]);

// GitHub lists at most this many commits in a push delivery and has no total to compare with.
const MAX_LISTED_COMMITS = 2048;

export const githubWebhooks: WebhookProvider = {
  provider: "github",
  secretVariable: "HOOKFLOW_GITHUB_SECRET",

  async verify(request, secret) {
    const signature = header(request, "x-hub-signature-256");
    // octokit throws a TypeError for an empty secret, body or signature; none of them can verify a delivery.
    if (!secret || !signature || typeof request.body !== "string" || request.body === "") return false;
    return verifyGithubSignature(secret, request.body, signature);
  },

  parse(request) {
    const id = deliveryId(request, ["x-github-delivery"]);
    const event = requireHeader(request, "x-github-event");
    const body = parseJsonBody(request.body);
    // GitHub sends a ping when the webhook is created; answering it 200 shows the hook as working.
    if (event === "ping") return { kind: "ignored", deliveryId: id, reason: "ping" };
    if (event === "pull_request") return parsePullRequest(id, body);
    if (event !== "push") return ignoredEvent(id, event);
    const push = validatePayload(GithubPush, body, "GitHub push payload");
    const commits = push.commits ?? [];
    return normalisePush({
      provider: "github",
      deliveryId: id,
      ref: push.ref,
      deleted: push.deleted === true || push.after === ZERO_SHA,
      repository: push.repository.full_name,
      cloneUrl: push.repository.clone_url,
      after: push.after,
      headCommit: push.head_commit,
      commits,
      newestFirst: false,
      truncated: commits.length >= MAX_LISTED_COMMITS,
      pusher: push.pusher.name,
    });
  },
};

function parsePullRequest(id: string, body: unknown): ParsedDelivery {
  const event = validatePayload(GithubPullRequest, body, "GitHub pull_request payload");
  return normaliseHubPullRequest("github", id, event, BUILDING_ACTIONS);
}
