/**
 * What the three git hosts' push deliveries have in common: reading headers and the JSON body, the commit
 * schema, and the one step that turns a push into a TriggerContext.
 */
import * as z from "zod/mini";
import { ValidationError } from "../../errors.js";
import { clipText, issuesFromZod, type Provider, type TriggerContext } from "../../model/index.js";
import { schema } from "../../model/schema.js";
import type { ParsedDelivery, WebhookRequest } from "../../ports.js";

/** The `after` of a push that deleted its ref. */
export const ZERO_SHA = "0".repeat(40);

export const CommitSha = /* @__PURE__ */ schema(() =>
  z.string().check(z.regex(/^[0-9a-f]{40}$/, "expected a 40-character lowercase hex commit sha")),
);

// Go encodes an empty slice as null (Gitea), so an absent list means no files.
const FileList = /* @__PURE__ */ schema(() =>
  z.pipe(
    z.nullish(z.array(z.string())),
    z.transform((files) => files ?? []),
  ),
);

/** A commit as all three hosts list it (GitLab's author has no username). */
export const PushCommit = /* @__PURE__ */ schema(() =>
  z.object({
    id: CommitSha,
    message: z.string(),
    author: z.object({ name: z.string(), username: z.optional(z.string()) }),
    added: FileList,
    modified: FileList,
    removed: FileList,
  }),
);
export type PushCommit = z.infer<typeof PushCommit>;

// A delivery id becomes part of a stored key; hosts send UUIDs, so anything far longer is not one.
const DELIVERY_ID_MAX = 256;
// Git lets a committer write any name; it is display text, and stored with every run.
const AUTHOR_MAX_BYTES = 256;
const SHOWN_MAX_BYTES = 128;

/** A header's value; an empty one counts as absent. Names are lowercase, as WebhookRequest promises. */
export function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers?.[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The first of `names` present (a host that sends a header under two names, such as Gitea and Gogs). */
export function requireHeader(request: WebhookRequest, ...names: [string, ...string[]]): string {
  for (const name of names) {
    const value = header(request, name);
    if (value !== undefined) return value;
  }
  throw missingHeader(names);
}

/** The delivery id from the first of `names` present: the key that makes a redelivery start nothing new. */
export function deliveryId(request: WebhookRequest, names: readonly string[]): string {
  for (const name of names) {
    const value = header(request, name);
    if (value === undefined) continue;
    if (value.length > DELIVERY_ID_MAX)
      throw new ValidationError(`header ${name} is too long`, [
        { path: `headers.${name}`, message: `at most ${DELIVERY_ID_MAX} characters` },
      ]);
    return value;
  }
  throw missingHeader(names);
}

function missingHeader(names: readonly string[]): ValidationError {
  const [first, ...others] = names;
  const alternatives = others.length > 0 ? ` (or ${others.join(", ")})` : "";
  return new ValidationError(`missing header ${names.join(" or ")}`, [
    { path: `headers.${first}`, message: `required${alternatives}` },
  ]);
}

export function parseJsonBody(body: unknown): unknown {
  if (typeof body === "string") {
    try {
      return JSON.parse(body);
    } catch {
      // falls through to the error below, which says what was expected
    }
  }
  // A webhook configured with the form content type sends `payload=<urlencoded JSON>`; say how to fix it.
  const hint =
    typeof body === "string" && body.startsWith("payload=")
      ? " (set the webhook's content type to application/json)"
      : "";
  throw new ValidationError(`body is not valid JSON${hint}`, [
    { path: "", message: `not valid JSON${hint}` },
  ]);
}

/** `value` checked against `schema`; a ValidationError with every problem's path otherwise. */
export function validatePayload<S extends z.ZodMiniType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`invalid ${what}`, issuesFromZod(result.error));
  return result.data;
}

/** A valid delivery of an event that starts nothing. */
export function ignoredEvent(deliveryId: string, event: string): ParsedDelivery {
  return {
    kind: "ignored",
    deliveryId,
    reason: `event "${clipText(event, SHOWN_MAX_BYTES)}" is not a push or a pull request`,
  };
}

/** A push, as each provider reads it from its own payload. */
export interface PushFacts {
  provider: Provider;
  deliveryId: string;
  /** The full ref: refs/heads/… or refs/tags/… (anything else starts nothing). */
  ref: string;
  deleted: boolean;
  repository: string;
  cloneUrl: string;
  /**
   * What the ref now points at: `after`, or GitLab's checkout_sha (for an annotated tag, the commit it points at
   * rather than the tag object).
   */
  after: string;
  /** The payload's own head commit, where it names one (GitHub's and Gitea's head_commit). */
  headCommit?: PushCommit | null;
  /** What the push itself says, where that is more than its head commit: an annotated tag's message. */
  message?: string;
  commits: readonly PushCommit[];
  /** The order of `commits`: GitHub and GitLab list them oldest first, Gitea and Gogs newest first. */
  newestFirst: boolean;
  /** Whether the payload lists fewer commits than the push holds. */
  truncated: boolean;
  /** The pusher's username: the author when there is no head commit. */
  pusher: string;
}

/** The one normalisation step all providers share. */
export function normalisePush(push: PushFacts): ParsedDelivery {
  const { deliveryId } = push;
  const target = refTarget(push.ref);
  if (!target)
    return {
      kind: "ignored",
      deliveryId,
      reason: `ref ${clipText(push.ref, SHOWN_MAX_BYTES)} is neither a branch nor a tag`,
    };
  if (push.deleted) return { kind: "ignored", deliveryId, reason: `${target.kind} deleted` };
  const files = changedFiles(push.commits, push.truncated);
  const head = headOf(push);
  const author = head?.author.name || head?.author.username || push.pusher;
  const context: TriggerContext = {
    provider: push.provider,
    event: target.kind === "tag" ? "tag" : "push",
    repository: push.repository,
    cloneUrl: push.cloneUrl,
    ref: push.ref,
    ...(target.kind === "tag" ? { tag: target.name } : { branch: target.name }),
    // For an annotated tag, GitHub's and Gitea's `after` is the tag object; their head_commit is the commit.
    commit: push.headCommit?.id ?? push.after,
    message: push.message || head?.message || "",
    author: clipText(author, AUTHOR_MAX_BYTES),
    pushedBy: pushersOf(push.pusher, head),
    deliveryId,
    ...(files && { changedFiles: files }),
  };
  return { kind: "trigger", deliveryId, context };
}

/**
 * The head commit: the payload's own, else the listed commit the ref now points at, else the newest listed
 * (Gogs, and Gitea before head_commit existed, send none; GitLab never does; a GitLab "Test" push lists commits
 * that do not include `after`). Undefined when nothing is listed (a new branch, a tag).
 */
function headOf(push: PushFacts): PushCommit | undefined {
  const { commits } = push;
  return (
    push.headCommit ??
    commits.find((c) => c.id === push.after) ??
    (push.newestFirst ? commits[0] : commits.at(-1))
  );
}

/** The usernames of who pushed: the pusher and the head commit's author (both, when they differ). */
function pushersOf(pusher: string, head: PushCommit | undefined): string[] {
  const names = [pusher, head?.author.username ?? ""].filter((n) => n !== "");
  return [...new Set(names.map((n) => clipText(n, AUTHOR_MAX_BYTES)))];
}

function refTarget(ref: string): { kind: "branch" | "tag"; name: string } | undefined {
  if (ref.startsWith("refs/heads/") && ref.length > "refs/heads/".length)
    return { kind: "branch", name: ref.slice("refs/heads/".length) };
  if (ref.startsWith("refs/tags/") && ref.length > "refs/tags/".length)
    return { kind: "tag", name: ref.slice("refs/tags/".length) };
  return undefined;
}

/**
 * Every file the listed commits added, modified or removed, once each, in order of first mention. Undefined
 * when the list cannot be the whole push, so that a `paths` filter runs the pipeline rather than skip it on
 * partial knowledge: no commits listed (a new branch, a tag), a list the host cut short, or a commit that lists
 * no file at all (GitHub leaves the lists empty for a commit too large to compute them; GitLab's "Test" sample
 * and older Gitea and Gogs send no lists; an empty commit changes nothing, and running is the safe side).
 */
function changedFiles(commits: readonly PushCommit[], truncated: boolean): string[] | undefined {
  if (commits.length === 0 || truncated) return undefined;
  if (commits.some((c) => c.added.length + c.modified.length + c.removed.length === 0)) return undefined;
  const files = new Set<string>();
  for (const commit of commits)
    for (const file of [...commit.added, ...commit.modified, ...commit.removed]) files.add(file);
  return [...files];
}
