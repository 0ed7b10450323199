import * as z from "zod/mini";
import { ValidationError } from "../../errors.js";
import { schema } from "../../model/schema.js";
import type { ParsedDelivery, WebhookProvider } from "../../ports.js";
import { normalisePullRequest } from "./pull-request.js";
import {
  CommitSha,
  deliveryId,
  header,
  ignoredEvent,
  normalisePush,
  PushCommit,
  parseJsonBody,
  validatePayload,
  ZERO_SHA,
} from "./push.js";
import { secretsEqual } from "./signature.js";

/** The fields of a GitLab Push Hook or Tag Push Hook that hookflow reads. */
const GitlabPush = /* @__PURE__ */ schema(() =>
  z.object({
    ref: z.string(),
    after: CommitSha,
    /** The commit the ref now points at (for an annotated tag, the tagged commit); null when deleted. */
    checkout_sha: z.nullish(CommitSha),
    /** Absent from GitLab's documented Tag Push example and from older versions' payloads: user_name then. */
    user_username: z.optional(z.string()),
    user_name: z.optional(z.string()),
    /** An annotated tag's message (null for a lightweight tag or a branch push). */
    message: z.nullish(z.string()),
    project: z.object({ path_with_namespace: z.string(), git_http_url: z.optional(z.string()) }),
    repository: z.nullish(z.object({ git_http_url: z.optional(z.string()) })),
    /** Oldest first (the head is last), the newest 20 only; total_commits_count says how many were pushed. */
    commits: z.nullish(z.array(PushCommit)),
    total_commits_count: z.optional(z.int().check(z.nonnegative())),
  }),
);

/** A project as a merge request's `source` and `target` name it. */
const GitlabProject = /* @__PURE__ */ schema(() =>
  z.object({ path_with_namespace: z.string(), git_http_url: z.string() }),
);

/** The fields of a GitLab Merge Request Hook that hookflow reads (GitLab's "Merge request events"). */
const GitlabMergeRequest = /* @__PURE__ */ schema(() =>
  z.object({
    user: z.object({ username: z.string(), name: z.optional(z.string()) }),
    project: z.object({ path_with_namespace: z.string() }),
    object_attributes: z.object({
      iid: z.int().check(z.positive()),
      action: z.optional(z.string()),
      source_branch: z.string(),
      target_branch: z.string(),
      source_project_id: z.int(),
      target_project_id: z.int(),
      source: GitlabProject,
      target: GitlabProject,
      last_commit: z.object({ id: CommitSha, message: z.string() }),
      /** The head before this update: present only when the update pushed commits. */
      oldrev: z.nullish(z.string()),
    }),
  }),
);

const PUSH_KINDS = new Set(["push", "tag_push"]);
const KIND_OF_EVENT = new Map([
  ["Push Hook", "push"],
  ["Tag Push Hook", "tag_push"],
  ["Merge Request Hook", "merge_request"],
]);

// GitLab (17.4+) keeps the Idempotency-Key across retries; older versions send only the event UUID.
const DELIVERY_ID_HEADERS = ["idempotency-key", "x-gitlab-event-uuid"];

export const gitlabWebhooks: WebhookProvider = {
  provider: "gitlab",
  secretVariable: "HOOKFLOW_GITLAB_TOKEN",

  async verify(request, secret) {
    const token = header(request, "x-gitlab-token");
    if (!secret || token === undefined) return false;
    return secretsEqual(token, secret);
  },

  parse(request) {
    const id = deliveryId(request, DELIVERY_ID_HEADERS);
    const event = header(request, "x-gitlab-event");
    const body = parseJsonBody(request.body);
    // System hooks arrive as "System Hook" and say what happened only in object_kind.
    const bodyKind = objectKind(body);
    const kind = bodyKind ?? (event === undefined ? undefined : KIND_OF_EVENT.get(event));
    if (kind === "merge_request") return parseMergeRequest(id, body);
    if (kind === undefined || !PUSH_KINDS.has(kind)) return ignoredEvent(id, bodyKind ?? event ?? "unknown");
    const push = validatePayload(GitlabPush, body, "GitLab push payload");
    const cloneUrl = push.project.git_http_url ?? push.repository?.git_http_url;
    if (cloneUrl === undefined)
      throw new ValidationError("invalid GitLab push payload", [
        { path: "project.git_http_url", message: "expected string (or repository.git_http_url)" },
      ]);
    const commits = push.commits ?? [];
    return normalisePush({
      provider: "gitlab",
      deliveryId: id,
      ref: push.ref,
      deleted: push.after === ZERO_SHA,
      repository: push.project.path_with_namespace,
      cloneUrl,
      after: push.checkout_sha ?? push.after,
      commits,
      newestFirst: false,
      ...(kind === "tag_push" && push.message && { message: push.message }),
      truncated: (push.total_commits_count ?? 0) > commits.length,
      pusher: push.user_username || push.user_name || "",
    });
  },
};

function objectKind(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("object_kind" in body)) return undefined;
  return typeof body.object_kind === "string" ? body.object_kind : undefined;
}

function parseMergeRequest(id: string, body: unknown): ParsedDelivery {
  const event = validatePayload(GitlabMergeRequest, body, "GitLab merge request payload");
  const mr = event.object_attributes;
  const action = mr.action ?? "unknown";
  // "update" is also sent for a new title or label; only an update that pushed commits (oldrev) has code to build.
  const builds = action === "open" || action === "reopen" || (action === "update" && !!mr.oldrev);
  return normalisePullRequest({
    provider: "gitlab",
    deliveryId: id,
    action: action === "update" && !builds ? "update without new commits" : action,
    builds,
    number: mr.iid,
    repository: mr.target.path_with_namespace,
    cloneUrl: mr.source.git_http_url,
    headRepository: mr.source.path_with_namespace,
    fromOtherRepository: mr.source_project_id !== mr.target_project_id,
    headBranch: mr.source_branch,
    headCommit: mr.last_commit.id,
    baseBranch: mr.target_branch,
    message: mr.last_commit.message,
    author: event.user.username,
    ref: `refs/merge-requests/${mr.iid}/head`,
  });
}
