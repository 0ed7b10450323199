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
import { hmacSha256Hex, secretsEqual } from "./signature.js";

/**
 * The fields of a Gitea `push` delivery that hookflow reads. Tags arrive as pushes too (with a separate
 * `create` event, which is ignored): no commits listed, the tagged commit as head_commit, and `after` naming
 * the tag object for an annotated tag. Gogs, and Gitea before head_commit existed, send no head_commit: the
 * head is then the listed commit named by `after` (the lists are newest first). Gogs names its headers
 * X-Gogs-*, with the same signature; Gitea sends both.
 */
const GiteaPush = z.object({
  ref: z.string(),
  after: CommitSha,
  repository: z.object({ full_name: z.string(), clone_url: z.string() }),
  head_commit: PushCommit.nullish(),
  /** Newest first, cut to the instance's FEED_MAX_COMMIT_NUM; total_commits says how many there were. */
  commits: z.array(PushCommit).nullish(),
  total_commits: z.number().int().nonnegative().optional(),
  pusher: z.object({ login: z.string() }),
});

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
    if (event !== "push") return ignoredEvent(id, event);
    const push = validatePayload(GiteaPush, body, "Gitea push payload");
    const commits = push.commits ?? [];
    const head = push.head_commit ?? commits.find((c) => c.id === push.after) ?? commits[0];
    return normalisePush({
      provider: "gitea",
      deliveryId: id,
      ref: push.ref,
      deleted: push.after === ZERO_SHA,
      repository: push.repository.full_name,
      cloneUrl: push.repository.clone_url,
      commit: head?.id ?? push.after,
      head,
      commits,
      truncated: (push.total_commits ?? 0) > commits.length,
      pusher: push.pusher.login,
    });
  },
};
