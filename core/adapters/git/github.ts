import { verify } from "@octokit/webhooks-methods";
import * as z from "zod";
import type { WebhookProvider } from "../../ports.js";
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
const GithubPush = z.object({
  ref: z.string(),
  after: CommitSha,
  deleted: z.boolean().optional(),
  repository: z.object({ full_name: z.string(), clone_url: z.string() }),
  /** Null when the ref was deleted; for an annotated tag, the tagged commit (`after` is the tag object). */
  head_commit: PushCommit.nullish(),
  commits: z.array(PushCommit).nullish(),
  pusher: z.object({ name: z.string() }),
});

// GitHub lists at most this many commits in a push delivery and has no total to compare with.
const MAX_LISTED_COMMITS = 2048;

export const githubWebhooks: WebhookProvider = {
  provider: "github",
  secretVariable: "HOOKFLOW_GITHUB_SECRET",

  async verify(request, secret) {
    const signature = header(request, "x-hub-signature-256");
    // octokit throws a TypeError for an empty secret, body or signature; none of them can verify a delivery.
    if (!secret || !signature || typeof request.body !== "string" || request.body === "") return false;
    return verify(secret, request.body, signature);
  },

  parse(request) {
    const id = deliveryId(request, ["x-github-delivery"]);
    const event = requireHeader(request, "x-github-event");
    const body = parseJsonBody(request.body);
    // GitHub sends a ping when the webhook is created; answering it 200 shows the hook as working.
    if (event === "ping") return { kind: "ignored", deliveryId: id, reason: "ping" };
    if (event !== "push") return ignoredEvent(id, event);
    const push = validatePayload(GithubPush, body, "GitHub push payload");
    const commits = push.commits ?? [];
    const head = push.head_commit ?? undefined;
    return normalisePush({
      provider: "github",
      deliveryId: id,
      ref: push.ref,
      deleted: push.deleted === true || push.after === ZERO_SHA,
      repository: push.repository.full_name,
      cloneUrl: push.repository.clone_url,
      commit: head?.id ?? push.after,
      head,
      commits,
      truncated: commits.length >= MAX_LISTED_COMMITS,
      pusher: push.pusher.name,
    });
  },
};
