/**
 * The interfaces through which services carry out what the engine decides. Adapters in core/adapters implement
 * them against real systems; each states what must be safe to call twice.
 */

import type { ReportFact } from "./engine/reports.js";
import type {
  CommitState,
  Identity,
  JobTemplate,
  Notifier,
  NotifyEvent,
  Pipeline,
  Provider,
  Run,
  RunEvent,
  RunStatus,
  Schedule,
  TaskLaunch,
  TriggerContext,
} from "./model/index.js";

/** The one source of time outside the engine: `systemClock` (core/adapters/system.ts), injected by the wiring. */
export interface Clock {
  /** ISO-8601 time. */
  now(): string;
}

export interface IdSource {
  /** A new run id: lowercase letters and digits, sortable by creation time. */
  runId(): string;
}

// ---------------------------------------------------------------- state

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

export interface RunQuery {
  pipeline?: string;
  status?: RunStatus;
  limit: number;
  cursor?: string;
}

/** What is known of an active run without loading it: enough to plan concurrency and reconciling. */
export interface ActiveRun {
  id: string;
  pipeline: string;
  status: RunStatus;
  createdAt: string;
  concurrencyGroup?: string;
}

export interface RunStore {
  /** Strongly consistent read: the run as last saved, with the task reports recorded since folded in. */
  getRun(id: string): Promise<Run | undefined>;
  /**
   * As getRun, with the run as last saved (`saved`, before the reports were folded in), and whether reports
   * changed it since (a save is then owed, to keep them).
   */
  loadRun(id: string): Promise<{ run: Run; saved: Run; unsaved: boolean } | undefined>;
  /**
   * Records a task attempt's report beside its run, not in it: parallel tasks never write the same item. The
   * same report again finds itself (recorded: false, existing: the same); an attempt's second, different ending
   * finds the first. Readers fold reports in (getRun); the next save keeps what they changed.
   */
  addReport(
    runId: string,
    report: ReportFact,
  ): Promise<{ recorded: true } | { recorded: false; existing: ReportFact }>;
  /**
   * Saves `run` if the stored version is still `run.version` (0 = must not exist yet). Returns the run as stored,
   * with its version incremented. Throws VersionConflictError carrying the stored run when another write won.
   */
  saveRun(run: Run): Promise<Run>;
  /** Newest first. */
  listRuns(query: RunQuery): Promise<Page<Run>>;
  /**
   * Runs the reconciler looks at (`needsReconciling`: unfinished, or finished and still owing their Jobs work),
   * oldest first; or the unfinished runs of one concurrency group.
   */
  activeRuns(group?: string): Promise<ActiveRun[]>;
}

/** The delivery that brought a body, and the runs it made. */
export interface DeliveredBody {
  id: string;
  runs: Array<{ id: string; pipeline: string }>;
  receivedAt: string;
}

/**
 * A delivery's body, named by its SHA-256 (hex), claimed for one delivery id for the delivery TTL: the body is the
 * delivery's when new to the store or already held by the same delivery id (whose runs it then replaces), else the
 * earlier delivery's that brought it. Atomic: of two deliveries racing with one body, one holds it.
 */
export interface BodyClaim {
  provider: Provider;
  sha256: string;
  delivery: DeliveredBody;
}

export interface DeliveryStore {
  /** Stores each new run only if no run has its id (webhook runs have ids derived from their delivery). */
  createRuns(runs: Run[]): Promise<boolean[]>;
  /**
   * As `createRuns`, for a delivery's runs, once its body is claimed for it: a body another delivery holds stores
   * no run and leaves nothing behind, and that delivery is returned.
   */
  createDeliveredRuns(
    runs: Run[],
    claim: BodyClaim,
  ): Promise<{ created: boolean[] } | { heldBy: DeliveredBody }>;
}

export interface StoredDefinition<T> {
  value: T;
  updatedAt: string;
  /** 1 for the first version saved; 0 for one saved before versions were kept. */
  version: number;
}

/** A definition saved: its new version and the one it replaced (0 when none, or one without a version). */
export interface SavedVersion {
  version: number;
  previous?: number;
}

/**
 * Definitions by name. Every save is a new version, kept (also after a delete) so an old one can be read back;
 * a save that races another for the same version is refused with a ConflictError.
 */
export interface DefinitionStore {
  putPipeline(pipeline: Pipeline, now: string): Promise<SavedVersion>;
  getPipeline(name: string): Promise<StoredDefinition<Pipeline> | undefined>;
  getPipelineVersion(name: string, version: number): Promise<StoredDefinition<Pipeline> | undefined>;
  listPipelines(): Promise<Array<StoredDefinition<Pipeline>>>;
  deletePipeline(name: string): Promise<boolean>;
  putJob(job: JobTemplate, now: string): Promise<SavedVersion>;
  getJob(name: string): Promise<StoredDefinition<JobTemplate> | undefined>;
  getJobVersion(name: string, version: number): Promise<StoredDefinition<JobTemplate> | undefined>;
  listJobs(): Promise<Array<StoredDefinition<JobTemplate>>>;
  deleteJob(name: string): Promise<boolean>;
}

/** A repository whose pipelines hookflow reads from its files (`.hookflow.yaml`, `.hookflow/*.yaml`). */
export interface EnabledRepository {
  provider: Provider;
  /** owner/name; GitLab: path_with_namespace, subgroups included. */
  repository: string;
  enabledAt: string;
}

/** The repositories an admin enabled; none by default, and no other repository's files are read. */
export interface RepositoryStore {
  /** Enables it, or returns it as first enabled (safe to repeat). */
  enable(provider: Provider, repository: string, now: string): Promise<EnabledRepository>;
  get(provider: Provider, repository: string): Promise<EnabledRepository | undefined>;
  list(): Promise<EnabledRepository[]>;
  /** False when it was not enabled. */
  disable(provider: Provider, repository: string): Promise<boolean>;
}

/** A schedule found in an enabled repository's file, at the head of the branch it builds. */
export interface RecordedSchedule {
  provider: Provider;
  repository: string;
  /** The branch the schedule builds, whose file declared it. */
  branch: string;
  /** The pipeline's full name, `<repository>/<name>`. */
  pipeline: string;
  /** The schedule's identity (scheduleKey): what it runs and when. */
  key: string;
  schedule: Schedule;
  /** When hookflow first read it there: minutes before are not owed. */
  recordedAt: string;
}

/**
 * The schedules of repositories' files, as the last push read to each branch showed them, so that the
 * reconciler's tick knows what may be due without asking any host. At fire time the file at the branch's head
 * decides (services/schedules.ts); a record is only a hint of what to look at.
 */
export interface RepositoryScheduleStore {
  /**
   * Makes (provider, repository, branch)'s records these; one recorded before keeps its `recordedAt`, and one no
   * longer listed is removed. Safe to repeat.
   */
  replace(
    provider: Provider,
    repository: string,
    branch: string,
    schedules: Array<Pick<RecordedSchedule, "pipeline" | "key" | "schedule">>,
    now: string,
  ): Promise<void>;
  list(): Promise<RecordedSchedule[]>;
  /** Safe for a record already gone. */
  remove(record: RecordedSchedule): Promise<void>;
}

/**
 * A personal or service token as stored: its secret only as a SHA-256 hash. A revoked or expired token is kept
 * (until a while after its expiry) so that using it is answered with the reason.
 */
export interface StoredToken {
  id: string;
  name: string;
  /** SHA-256 (hex) of the secret part. */
  hash: string;
  /** `person`: acts as `identity`; `service`: an admin that is not a person. */
  kind: "person" | "service";
  identity?: Identity;
  /** Who created it (a principal's name). */
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** A `hookflow login` waiting for its one-time code to be exchanged (PKCE-style: the CLI holds the verifier). */
export interface PendingLogin {
  /** SHA-256 (hex) of the one-time code. */
  codeHash: string;
  /** base64url SHA-256 of the CLI's verifier. */
  challenge: string;
  identity: Identity;
  expiresAt: string;
}

export interface TokenStore {
  /** Stores a new token; its id must be new. */
  create(token: StoredToken): Promise<void>;
  /** Strongly consistent, so a revocation counts at once. */
  get(id: string): Promise<StoredToken | undefined>;
  /** Tokens of one owner (a person's subject, or "service"), newest first. */
  list(owner: string): Promise<StoredToken[]>;
  /** Marks it revoked; the token as it now is, or undefined when there is none. */
  revoke(id: string, at: string, by: string): Promise<StoredToken | undefined>;
  putLogin(login: PendingLogin): Promise<void>;
  /** Takes the pending login with this code hash: once only, and only before it expires. */
  takeLogin(codeHash: string, now: string): Promise<PendingLogin | undefined>;
}

/** One line of the audit trail. */
export interface AuditEntry {
  at: string;
  /** The principal's name: a username, or a service token's label. */
  actor: string;
  /** What was attempted: `pipeline.put`, `run.cancel`, `task.approve`, `token.create`, … */
  action: string;
  /** What it was done to: `pipeline/web-app`, `run/<id>`, `run/<id>/task/deploy`, `token/<id>`. */
  target: string;
  outcome: "allowed" | "refused";
  detail?: Record<string, unknown>;
}

/** Append-only; entries expire after the retention period. */
export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  list(query: { limit: number; cursor?: string }): Promise<Page<AuditEntry>>;
}

/** Records of things sent to the outside world, so that each is sent once per key. */
export interface DeliveryLedger {
  /** Claims `key` for sending; false when it was already sent or another sender holds a fresh claim. */
  claim(key: string, now: string, leaseSeconds: number): Promise<boolean>;
  /** Marks `key` sent, for good. */
  complete(key: string, now: string): Promise<void>;
  /** Gives a claim up after a failure, so a later attempt may take it. */
  release(key: string): Promise<void>;
}

/** Fixed-window counters shared by every process, so a robot's rate limit holds across Lambda instances. */
export interface RateLimiter {
  /** Takes one unit of `key`'s budget; when none is left, says how long until the window turns. */
  acquire(
    key: string,
    limit: { max: number; perSeconds: number },
    now: string,
  ): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }>;
}

/** One attempt's claim on a slot of its pipeline (`maxRunningTasks`, counted across the pipeline's runs). */
export interface SlotHolder {
  runId: string;
  task: string;
  attempt: number;
}

/** An attempt waiting for a slot; waiters are served oldest run first. */
export interface SlotWaiter extends SlotHolder {
  /** Its run's `createdAt`. */
  since: string;
}

/** A pipeline's slots as stored: who holds one (by key), who waits. */
export interface PipelineSlots {
  pipeline: string;
  /** The keys (`TaskSlots.keyOf`) of the attempts holding a slot, one a slot. */
  holders: string[];
  waiting: SlotWaiter[];
  /** The keys the repair's last look found held by no attempt in flight (`suspect`). */
  suspects: string[];
}

/**
 * The running-task slots of each pipeline, counted exactly across all its runs, stored apart from the runs'
 * own items. Every call is safe to repeat: a holder or waiter is named by (run, task, attempt), a holder by its
 * key (`keyOf`, a short hash of the three), so taking a slot twice holds one, and giving one back twice gives
 * back one.
 * - take: holds a slot for the attempt if fewer than `limit` are held (or it holds one already). Otherwise it
 *   records the attempt as waiting, in the same atomic step that saw the slots full, so a slot given back
 *   after that sees it; `holding` is how many are held. Taking removes the attempt from the waiters; `waited`
 *   (its run recorded it waiting) is a hint that it has a waiter to remove: a wrong hint costs a request more.
 * - takeAll: takes the slots of several attempts in one atomic step (a few, for many), when nobody waits, there
 *   is room for all and none holds one yet; returns the attempts holding a slot now (the caller calls take for the
 *   others).
 * - release: gives the slot of the attempt (or of the holder's key, as `list` gives it) back, if it held one,
 *   and removes the attempt from the waiters. When attempts wait and the slots held are within `limit`, the
 *   slot moves to one of the oldest, returned as `handedTo` (its run is to be woken); otherwise it is freed (the
 *   repair hands free room on).
 * - releaseAll: gives back the slots of several attempts in one atomic step (a few, for many) when nobody waits
 *   and each holds one; returns those it gave back (the caller calls release for the others).
 * - handOff: gives slots to these waiters, in one atomic step: each stops waiting and holds a slot, provided all
 *   are still waiting and there is room for all of them under `limit`; otherwise changes nothing and returns
 *   the slots as they are. So two callers never hand the same room or waiter out twice.
 * - unwait: removes these waiters when all are still waiting; otherwise removes none and returns the slots.
 * - suspect: records the keys the repair found held by no attempt in flight, for its next look.
 * - list: the records of these pipelines and of any an index still lists (written by releases before), for the
 *   reconciler's repair.
 * - read: one pipeline's record as stored now, or undefined when it has none.
 */
export interface TaskSlots {
  keyOf(holder: SlotHolder): string;
  take(
    pipeline: string,
    waiter: SlotWaiter,
    limit: number,
    waited?: boolean,
  ): Promise<{ taken: true } | { taken: false; holding: number }>;
  takeAll(pipeline: string, waiters: SlotWaiter[], limit: number): Promise<SlotWaiter[]>;
  release(pipeline: string, holder: SlotWaiter | string, limit: number): Promise<{ handedTo?: SlotWaiter }>;
  releaseAll(pipeline: string, holders: SlotWaiter[]): Promise<SlotWaiter[]>;
  unwait(
    pipeline: string,
    waiters: SlotWaiter[],
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }>;
  handOff(
    pipeline: string,
    waiters: SlotWaiter[],
    limit: number,
  ): Promise<{ ok: true } | { ok: false; current?: PipelineSlots }>;
  suspect(pipeline: string, keys: string[]): Promise<void>;
  list(pipelines?: Iterable<string>): Promise<PipelineSlots[]>;
  read(pipeline: string): Promise<PipelineSlots | undefined>;
}

// ---------------------------------------------------------------- queue

/**
 * The messages on the work queue. A run message applies an event to its run and carries out what the run owes
 * (message group = the run id, so one run's messages are handled one at a time, in order). A delivery message
 * carries out one notification or commit status the run owes (message group = `notify:<run id>`, so a slow
 * outside service never holds up the run's own group, and a run's notices still go out in order).
 */
export type WorkMessage = RunMessage | DeliveryMessage;

export interface RunMessage {
  runId: string;
  event: RunEvent;
  /** For a reconcile: look at the run's Jobs first (default). False when only owed effects need carrying out. */
  observe?: boolean;
}

export interface DeliveryMessage {
  runId: string;
  /** The key of the notify or commitStatus effect in the run's outbox. */
  deliver: string;
}

export interface WorkQueue {
  /** Sends messages in the groups above, deduplicated by `dedupKey` for five minutes. */
  send(messages: Array<WorkMessage & { dedupKey: string }>): Promise<void>;
}

/** Why a run asked to be looked at again; for logs and metrics only: every wake-up means "reconcile this run". */
export type WakeReason = "observe" | "approvalTimeout" | "retryBackoff" | "runTimeout" | "schedule";

/**
 * The one delayed wake-up: "look at this run again at time T". Every feature that waits for a moment (follow-up
 * observations of running tasks, approval and run timeouts, retry backoff, schedules) asks through it, and every
 * wake-up only reconciles the run, so a duplicate, an early or a late one is harmless: the engine decides from
 * the run and the clock what, if anything, is due. The reconciler's periodic tick stays the safety net for a
 * wake-up that is lost.
 * - schedule: delivers a reconcile of `runId` at `at` (ISO time) or a little after, never much before; a time in
 *   the past means now. Safe to call twice (two reconciles). Throws RetryableError when it cannot be queued.
 */
export interface WakeUps {
  schedule(runId: string, at: string, reason: WakeReason): Promise<void>;
}

// ---------------------------------------------------------------- runners

/** One attempt of one task, as a runner addresses it. */
export interface JobRef {
  runId: string;
  task: string;
  attempt: number;
  jobName: string;
}

export type JobState = "missing" | "pending" | "running" | "succeeded" | "failed";

export interface JobObservation {
  state: JobState;
  /** For a failed Job: what happened, in words (which deadline, which exit code). */
  message?: string;
  /** The task container's termination message: `KEY=VALUE` outputs (or a log tail on error). */
  terminationMessage?: string;
}

/** One container's whole log, as a runner collects it for the archive. */
export interface ContainerLog {
  name: string;
  init: boolean;
  /** Its lines, each `<RFC 3339 time> <text>` when `timestamps` (the source gave each line's time). */
  text: string;
  timestamps: boolean;
  /** Only the newest lines are here: the log was longer than the limit. */
  cut?: boolean;
}

export type CollectedLog =
  /** The pod (or process) is gone: there is no log left to copy. */
  | { state: "gone" }
  /** `ended`: no container runs any more, so the log is complete. */
  | { state: "found"; ended: boolean; containers: ContainerLog[] };

/**
 * Runs task attempts (a Kubernetes Job each, or a local process). An attempt is named by `jobName`, which the
 * engine derives from (run, task, attempt): every call may come again, as SQS delivers at least once.
 * Lifecycle: submit → observe … → terminal; cancel at any point. test/integration/runner-conformance.test.ts
 * holds every runner to this, and the in-memory runner of the tests throws on what it forbids.
 * - submit: safe to call twice, concurrently too: an attempt that already exists counts as submitted, and
 *   nothing runs twice. Once it resolves, observe never answers "missing" (until cancel, or the runner's own
 *   clean-up of a finished attempt). Throws PermanentError when the launch can never be accepted (the message
 *   names the field or the API's reason), RetryableError otherwise; after a failed submit the attempt may exist
 *   in part, and submitting again completes it.
 *   Forbidden: submitting a canceled attempt again, or another launch under a `jobName` in use.
 * - observe: "missing" for an attempt never submitted or deleted; never "succeeded" without the attempt's own word
 *   for it (an exit status, a Complete condition); a terminal state never changes but to "missing" (deleted).
 * - stop: ends the attempt's processes now and keeps what collectLogs reads, so that a cancel or a timeout never
 *   waits for the log archive; safe to call twice, and for an attempt that ended, is gone or was never submitted.
 *   Once it resolves, nothing of the attempt will start again (no retry of its own) and what runs is being
 *   killed (Kubernetes: the kubelet kills the pod's containers on its next sync; locally, the process group gets
 *   SIGTERM); the attempt then observes as "failed", or "missing" when nothing of it had started (then there is no
 *   log to keep, and the runner may delete it at once).
 * - cancel: stops the attempt; safe to call twice, and for an attempt that is gone or was never submitted. Once it
 *   resolves, an attempt that had not ended observes as "failed" (the local runner keeps its record and logs,
 *   message "canceled") or "missing" (Kubernetes deletes the Job): never pending, running or succeeded.
 * - logs: the attempt's output so far, "" for one never submitted or deleted.
 */
export interface TaskRunner {
  submit(launch: TaskLaunch): Promise<void>;
  observe(ref: JobRef): Promise<JobObservation>;
  stop(ref: JobRef): Promise<void>;
  cancel(ref: JobRef): Promise<void>;
  /** The attempt's output, its last `tail` lines when given; one container's when `container` is given. */
  logs(ref: JobRef, options?: { tail?: number; container?: string }): Promise<string>;
  /**
   * Every container's log of the attempt (init containers first), whole up to the runner's per-container limit,
   * with each line's time where the source gives one: what the log archive keeps. Reads only; safe to repeat.
   */
  collectLogs(ref: JobRef): Promise<CollectedLog>;
}

// ---------------------------------------------------------------- log archive

/** An attempt of a task, as the log archive keys it (run, task, attempt; then container). */
export interface AttemptKey {
  runId: string;
  task: string;
  attempt: number;
}

/** What the archive holds for an attempt: its containers' logs, or the record that its pod was gone. */
export interface ArchivedAttempt {
  containers: Array<{ name: string; init: boolean; timestamps: boolean; bytes: number; cut?: boolean }>;
  /** Set when the pod was gone before its log could be copied: said in the log's place. */
  gone?: string;
  archivedAt: string;
}

/** A log to keep: already masked (the archive never holds a sensitive value). */
export interface AttemptLogToKeep {
  containers: ContainerLog[];
  gone?: string;
  archivedAt: string;
}

/**
 * Ended attempts' logs, kept after their pods are gone (S3 on AWS, s3rver locally). Objects are compressed and a
 * large log is stored in parts, so a tail never downloads the whole log. Writers: the scheduler; reader: the API.
 */
export interface LogArchive {
  /** What is kept for an attempt; undefined when nothing is (yet). Strongly consistent after `keep`. */
  find(key: AttemptKey): Promise<ArchivedAttempt | undefined>;
  /** Resolves when the archive can be reached with this deployment's credentials; throws saying why not. */
  reachable(): Promise<void>;
  /** Stores an attempt's log. Safe to repeat: the index is written last, so a half-written copy is redone. */
  keep(key: AttemptKey, log: AttemptLogToKeep): Promise<ArchivedAttempt>;
  /**
   * One container's newest lines: at least `tail` lines when given, and at least `minBytes` of text (whole
   * parts are read from the newest back until both are met). `cut`: older lines exist that are not returned.
   */
  read(
    key: AttemptKey,
    container: string,
    want: { tail?: number; minBytes: number },
  ): Promise<{ text: string; cut: boolean }>;
}

// ---------------------------------------------------------------- the outside world

/** Everything a notification shows, already masked. */
export interface RunNotice {
  event: NotifyEvent;
  pipeline: string;
  runId: string;
  status: RunStatus;
  trigger: Pick<
    TriggerContext,
    "provider" | "repository" | "ref" | "branch" | "tag" | "commit" | "message" | "author"
  >;
  durationSeconds?: number;
  /** The first task that failed, for failed runs and task.failed. */
  failedTask?: { name: string; message?: string };
  /** The task the event is about (task.* events). */
  task?: { name: string; status: string; message?: string; approvers?: string[] };
  /** The run's page (HOOKFLOW_PUBLIC_URL + /runs/{id}). */
  url: string;
}

/** Delivers one notice to one target. Throws RetryableError (retry later) or PermanentError (give up). */
export interface NotificationSender {
  send(target: Notifier, notice: RunNotice): Promise<void>;
}

export interface CommitStatus {
  provider: Provider;
  repository: string;
  commit: string;
  state: CommitState;
  /** `hookflow/<pipeline>` */
  context: string;
  description: string;
  targetUrl: string;
}

/** Reports a commit status to the git host. Throws RetryableError or PermanentError. */
export interface CommitStatusReporter {
  /** Whether a token for this git host is configured. */
  enabledFor(provider: Provider): boolean;
  report(status: CommitStatus): Promise<void>;
}

// ---------------------------------------------------------------- git hosts

/** A webhook request as it arrived: header names lowercase, the body exactly as received. */
export interface WebhookRequest {
  headers: Readonly<Record<string, string>>;
  body: string;
}

export type ParsedDelivery =
  | { kind: "trigger"; deliveryId: string; context: TriggerContext }
  /** A valid delivery that starts nothing: a ping, another event, a branch deletion. */
  | { kind: "ignored"; deliveryId: string; reason: string };

export interface WebhookProvider {
  provider: Provider;
  /** The configuration variable holding this provider's secret or token, named in errors when it is unset. */
  secretVariable: string;
  /** Checks the signature (HMAC over the raw body) or token, in constant time. */
  verify(request: WebhookRequest, secret: string): Promise<boolean>;
  /** Normalises a verified delivery. Throws ValidationError (with each problem's path) for a malformed one. */
  parse(request: WebhookRequest): ParsedDelivery;
}

/** A branch's newest commit, as the git host's API tells it. */
export interface BranchHead {
  commit: string;
  message: string;
  author: string;
}

export interface DirectoryEntry {
  name: string;
  /** From the repository's root. */
  path: string;
  kind: "file" | "directory" | "other";
}

/**
 * One git host's API, read with the host token (GitHub, GitLab, Gitea). Every call is bounded in time and in the
 * bytes it reads; reads are safe to repeat. "Not there" (no such repository, branch, commit or file) is
 * `undefined`; a refused token or an unusable answer is a PermanentError naming the setting or the field; a
 * timeout, a rate limit or a 5xx is a RetryableError.
 */
export interface GitHostApi {
  provider: Provider;
  branchHead(repository: string, branch: string): Promise<BranchHead | undefined>;
  /** A file's text at a commit; a file over the read bound is a PermanentError saying so. */
  readFile(repository: string, commit: string, path: string): Promise<string | undefined>;
  /** A directory's entries at a commit (at most the read bound's count). */
  listDirectory(repository: string, commit: string, path: string): Promise<DirectoryEntry[] | undefined>;
  /**
   * The paths a pull (merge) request changes against its base, a renamed file's old path too; undefined when the
   * host does not know the pull request or lists more than `limit` (read page by page, never past the limit).
   */
  pullRequestFiles(repository: string, number: number, limit: number): Promise<string[] | undefined>;
  /** A commit's message, read in the base repository (a fork's pull request head is there too); undefined when unknown. */
  commitMessage(repository: string, commit: string): Promise<string | undefined>;
}

/** The host APIs hookflow may call: one per provider whose token is configured. */
export type GitHostApis = Partial<Record<Provider, GitHostApi>>;

/** A pull (merge) request as the host's API addresses it. */
export interface PullRequestRef {
  provider: Provider;
  /** The base repository (owner/name, GitLab's path_with_namespace). */
  repository: string;
  /** The number (GitLab: the IID). */
  number: number;
}

/**
 * What a pull request's delivery may lack, from the git host's API: asked only when a run would depend on it
 * (a matching pipeline filters on `paths`; a run would start and the payload has no head commit message).
 */
export interface PullRequestDetails {
  /**
   * Every changed path, or undefined when the host cannot say (no token for it, more files than are read, an
   * answer it refuses for good): a `paths` filter then runs the pipeline rather than skip it on partial
   * knowledge. Throws RetryableError when the host could answer later (the delivery then fails and the host
   * redelivers it).
   */
  changedFiles(pr: PullRequestRef): Promise<string[] | undefined>;
  /** The head commit's message, or undefined when the host cannot say (then nothing is skipped); as above. */
  headMessage(pr: PullRequestRef, commit: string): Promise<string | undefined>;
}

// ---------------------------------------------------------------- people

/** The claims an OpenID provider vouched for after a sign-in. */
export type Claims = Record<string, unknown>;

/**
 * An OpenID Connect provider, authorization code flow with PKCE. Throws RetryableError when the provider cannot
 * be reached (sign-in fails with that message; nothing else depends on it), UnauthorizedError when the
 * provider refuses the code or the answer does not check out.
 */
export interface SignInProvider {
  authorizationUrl(request: {
    redirectUri: string;
    state: string;
    nonce: string;
    codeChallenge: string;
  }): Promise<URL>;
  /** `callbackUrl`: the URL the provider redirected to, with its query. */
  exchange(
    callbackUrl: URL,
    expected: { state: string; nonce: string; codeVerifier: string },
  ): Promise<Claims>;
}

// ---------------------------------------------------------------- operations

/** Structured logs: one JSON object per line on Lambda and locally. Never pass secrets. */
export interface Logger {
  /** Routine decisions, written only where asked for (HOOKFLOW_LOG_LEVEL=debug); a logger may leave it out. */
  debug?(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What hookflow counts and times (CloudWatch metrics, namespace `Hookflow`):
 * - `RunsStarted` (Count): runs that started (left pending for their first stage).
 * - `RunsFinished` (Count, by `Status`): runs that ended succeeded, failed or canceled.
 * - `TaskDuration` (Milliseconds, by `Status`): an attempt's time from its start (else submission) to its end.
 * - `StageAdvanceLatency` (Milliseconds): a stage's last task ended → the next stage's first task submitted.
 * - `WebhookToSubmitLatency` (Milliseconds): a run recorded (the webhook's or API's write) → its first submission.
 * - `NotificationFailures` (Count, by `Kind`): notifications and commit statuses that failed for good.
 * - `QueueAge` (Milliseconds): a work message's time in the queue before the scheduler took it.
 * - `WakeUpsDropped` (Count): due wake-ups that found nothing due on their run, so were not made a reconcile.
 */
export type MetricName =
  | "RunsStarted"
  | "RunsFinished"
  | "TaskDuration"
  | "StageAdvanceLatency"
  | "WebhookToSubmitLatency"
  | "NotificationFailures"
  | "QueueAge"
  | "WakeUpsDropped";

export interface MetricPoint {
  name: MetricName;
  unit: "Count" | "Milliseconds";
  value: number;
  /** At most a few low-cardinality values (a status, a kind): every distinct set is a metric CloudWatch bills. */
  dimensions?: Record<string, string>;
}

/** Collects metric points; `flush` publishes what was collected (once per invocation, at its end). */
export interface Metrics {
  add(...points: MetricPoint[]): void;
  flush(): Promise<void>;
}

/** How many messages wait in the work queue, are being handled, and have been given up (dead letters). */
export interface QueueDepth {
  waiting: number;
  inFlight: number;
  /** Undefined when the queue has no dead-letter queue (its RedrivePolicy is unset). */
  deadLetters?: number;
}

export interface QueueInspector {
  depth(): Promise<QueueDepth>;
}

/** A right hookflow's Kubernetes identity needs in its namespace, and what it is for. */
export interface KubernetesRight {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  why: string;
}

/** Asks the cluster, as hookflow's own identity, which of the rights it needs it has (SelfSubjectAccessReview). */
export interface ClusterAccess {
  namespace: string;
  review(): Promise<Array<KubernetesRight & { allowed: boolean }>>;
}
