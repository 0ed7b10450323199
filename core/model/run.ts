import * as z from "zod/mini";
import { JobTemplate } from "./job-template.js";
import { NotifyEvent, Pipeline, Provider, TriggerEvent } from "./pipeline.js";
import { schema } from "./schema.js";

export const RunStatus = /* @__PURE__ */ schema(() =>
  z.enum(["pending", "running", "waiting", "succeeded", "failed", "canceled"]),
);
export type RunStatus = z.infer<typeof RunStatus>;
export const TaskStatus = /* @__PURE__ */ schema(() =>
  z.enum(["pending", "waiting", "queued", "running", "succeeded", "failed", "canceled", "skipped"]),
);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "canceled"]);
export const TERMINAL_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set([
  "succeeded",
  "failed",
  "canceled",
  "skipped",
]);
/** A task whose Job may exist: submitted or about to be. */
export const ACTIVE_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set(["queued", "running"]);

export const isTerminalRun = (status: RunStatus) => TERMINAL_RUN_STATUSES.has(status);
export const isTerminalTask = (status: TaskStatus) => TERMINAL_TASK_STATUSES.has(status);
export const isActiveTask = (status: TaskStatus) => ACTIVE_TASK_STATUSES.has(status);

/**
 * A run of a pull request whose head is another repository (a fork), not yet trusted: its tasks get no
 * sensitive value and its tasks that need approval are held.
 */
export const isUntrustedRun = (run: { trigger: { pullRequest?: { fork: boolean } }; trustedBy?: unknown }) =>
  run.trigger.pullRequest?.fork === true && run.trustedBy === undefined;

/** Why a run is in its status: a closed set, so that tools can rely on it. */
export const RunReason = /* @__PURE__ */ schema(() =>
  z.enum([
    "Created",
    "WaitingForGroup",
    "Running",
    "WaitingForApproval",
    "Succeeded",
    "Failed",
    "Canceled",
    "CanceledByNewerRun",
  ]),
);
export type RunReason = z.infer<typeof RunReason>;

export const TaskReason = /* @__PURE__ */ schema(() =>
  z.enum([
    "Pending",
    "WhenNotMatched",
    /** Skipped by its job template's `requires` (branches, forks), which no pipeline can loosen. */
    "RequirementNotMet",
    "UpstreamFailed",
    "AwaitingApproval",
    /** A task that needs approval, in a fork's pull request run not yet trusted. */
    "HeldUntrusted",
    "Approved",
    "Denied",
    "ApprovalTimedOut",
    "Queued",
    "Running",
    "Succeeded",
    "Failed",
    "TimedOut",
    "Lost",
    "MissingVariable",
    "InvalidSpec",
    "OutputsTooLarge",
    "SubmitRejected",
    "Canceled",
    /** A failed attempt waits for its retry's backoff to pass. */
    "RetryWaiting",
    /** The run's own `timeoutSeconds` passed before the task ended: fails the run, whatever `ignoreFailed` says. */
    "RunTimedOut",
    /** Queued, but the pipeline's `maxRunningTasks` are all taken (by any of its runs): submitted once one frees. */
    "WaitingForRoom",
  ]),
);
export type TaskReason = z.infer<typeof TaskReason>;

export const CommitState = /* @__PURE__ */ schema(() => z.enum(["pending", "success", "failure", "error"]));
export type CommitState = z.infer<typeof CommitState>;

/** What started a run, normalised from GitHub, GitLab, Gitea or a manual request. */
export const TriggerContext = /* @__PURE__ */ schema(() =>
  z.object({
    provider: Provider,
    event: TriggerEvent,
    repository: z.string(),
    cloneUrl: z.string(),
    ref: z.string(),
    branch: z.optional(z.string()),
    tag: z.optional(z.string()),
    commit: z.string(),
    message: z.string(),
    author: z.string(),
    /**
     * Who pushed the change (or started the run by hand), as usernames and emails: the people
     * `approval.allowSelfApproval: false` refuses, besides `author`.
     */
    pushedBy: z.optional(z.array(z.string())),
    deliveryId: z.optional(z.string()),
    /** Set for a pull (merge) request: `branch` and `commit` are then its head's, `cloneUrl` the head repository's. */
    pullRequest: z.optional(
      z.object({
        /** GitHub's and Gitea's number, GitLab's IID. */
        number: z.int().check(z.positive()),
        baseBranch: z.string(),
        /** The base branch's commit when the payload names it: where the pipeline's definition is read. */
        baseCommit: z.optional(z.string()),
        /** The repository the head commit lives in (owner/name, path_with_namespace). */
        headRepository: z.string(),
        /** The head lives in another repository than the base: untrusted until someone allowed to approve says so. */
        fork: z.boolean(),
      }),
    ),
    /** Files added, modified or removed by the push; used to match `paths`, not stored with the run. */
    changedFiles: z.optional(z.array(z.string())),
  }),
);
export type TriggerContext = z.infer<typeof TriggerContext>;

/** A decision on an approval: who decided (the principal's username, and email when verified), when, and why. */
export const Approval = /* @__PURE__ */ schema(() =>
  z.object({
    decision: z.enum(["approved", "denied"]),
    by: z.string(),
    email: z.optional(z.string()),
    comment: z.optional(z.string()),
    at: z.string(),
  }),
);

/** An attempt as it ended, kept when a retry or a rerun replaces it: readable, never overwritten. */
export const AttemptRecord = /* @__PURE__ */ schema(() =>
  z.object({
    attempt: z.int(),
    round: z.int(),
    status: TaskStatus,
    reason: TaskReason,
    message: z.optional(z.string()),
    jobName: z.optional(z.string()),
    startedAt: z.optional(z.string()),
    finishedAt: z.optional(z.string()),
    outputs: z.record(z.string(), z.string()),
  }),
);
export type AttemptRecord = z.infer<typeof AttemptRecord>;

export const TaskState = /* @__PURE__ */ schema(() =>
  z.object({
    name: z.string(),
    status: TaskStatus,
    reason: TaskReason,
    message: z.optional(z.string()),
    /** Attempts made so far; each has its own Job name and callback token. 0 = never submitted. */
    attempt: z.int(),
    /** The attempt before this round started: retries used = attempt - roundStart - 1. */
    roundStart: z.int(),
    jobName: z.optional(z.string()),
    /**
     * The attempt the relay reported running: it watches that attempt's Job and reports its end, so the attempt
     * gets no follow-up observations (core/engine/follow-up.ts). Another attempt is not watched until reported.
     */
    relayedAttempt: z.optional(z.int()),
    queuedAt: z.optional(z.string()),
    submittedAt: z.optional(z.string()),
    startedAt: z.optional(z.string()),
    finishedAt: z.optional(z.string()),
    deadline: z.optional(z.string()),
    outputs: z.record(z.string(), z.string()),
    /** Outputs this attempt reported that may not become variables, each saying why (shown in its message). */
    refusedOutputs: z.optional(z.array(z.string())),
    approval: z.optional(Approval),
    /** The attempts whose logs are kept in the log archive, oldest first (kept across re-runs). */
    logs: z.optional(z.array(z.lazy(() => ArchivedLog))),
    /** When a failed attempt's retry may start (its backoff); the task waits, pending, until then. */
    retryAt: z.optional(z.string()),
    /** Earlier attempts, oldest first (a bounded number: see ATTEMPTS_KEPT_PER_TASK, LIMITS.historyBytesPerRun). */
    history: z.optional(z.array(AttemptRecord)),
  }),
);
export type TaskState = z.infer<typeof TaskState>;

export const StageState = /* @__PURE__ */ schema(() =>
  z.object({
    name: z.string(),
    parallel: z.boolean(),
    tasks: z.array(TaskState),
    /** The pipeline's `finally` tasks: always the last stage, run whatever the stages before it did. */
    finally: z.optional(z.boolean()),
  }),
);
export type StageState = z.infer<typeof StageState>;

/** A failure to deliver something the run owed the outside world (a notification, a commit status). */
export const DeliveryFailure = /* @__PURE__ */ schema(() =>
  z.object({
    key: z.string(),
    target: z.string(),
    error: z.string(),
    at: z.string(),
  }),
);
export type DeliveryFailure = z.infer<typeof DeliveryFailure>;

export const Run = /* @__PURE__ */ schema(() =>
  z.object({
    id: z.string(),
    pipeline: z.string(),
    status: RunStatus,
    reason: RunReason,
    message: z.optional(z.string()),
    trigger: TriggerContext,
    /** The pipeline and the job templates it uses, as they were when the run was created. */
    definition: Pipeline,
    jobs: z.record(z.string(), JobTemplate),
    /** Params given with a manual run. */
    params: z.record(z.string(), z.string()),
    /** Run-level system variables (GIT_*, APP_VERSION, HOOKFLOW_RUN_ID, HOOKFLOW_PIPELINE). */
    variables: z.record(z.string(), z.string()),
    /** The concurrency group, scoped to the repository (`provider:repository:group`). */
    concurrencyGroup: z.optional(z.string()),
    /** Who trusted a fork's pull request run, and when: from then on its tasks get sensitive values. */
    trustedBy: z.optional(z.object({ by: z.string(), at: z.string() })),
    commitStatus: z.boolean(),
    /** Incremented by each re-run, so that its notifications are new ones. */
    round: z.int(),
    stages: z.array(StageState),
    /** Effects owed to the outside world, kept until delivered so that a crash cannot lose them. */
    outbox: z.array(z.lazy(() => OutboxEffect)),
    deliveryFailures: z.array(DeliveryFailure),
    createdAt: z.string(),
    startedAt: z.optional(z.string()),
    finishedAt: z.optional(z.string()),
    updatedAt: z.string(),
    /**
     * The callback token form this run's attempts were given: "attempt" (an HMAC of run id, task and attempt) for
     * every run created since; absent on runs the previous release created, whose tasks hold a token of their Job
     * name (decision 4 in docs/decisions.md: accepted until no such run is active).
     */
    tokens: z.optional(z.literal("attempt")),
    /** Optimistic-concurrency version, set by the store. */
    version: z.int(),
  }),
);
export type Run = z.infer<typeof Run>;

/** A task as the runner needs it: everything resolved, nothing left to look up. */
export const TaskLaunch = /* @__PURE__ */ schema(() =>
  z.object({
    runId: z.string(),
    pipeline: z.string(),
    task: z.string(),
    attempt: z.int(),
    jobName: z.string(),
    timeoutSeconds: z.int(),
    env: z.record(z.string(), z.string()),
    /** Sensitive values: a Secret on Kubernetes, never a plain value in a spec. */
    secretEnv: z.record(z.string(), z.string()),
    source: z.discriminatedUnion("kind", [
      z.object({
        kind: z.literal("run"),
        image: z.string(),
        command: z.array(z.string()),
        args: z.optional(z.array(z.string())),
        workingDir: z.optional(z.string()),
      }),
      z.object({ kind: z.literal("job"), template: z.string(), manifest: z.record(z.string(), z.unknown()) }),
    ]),
  }),
);
export type TaskLaunch = z.infer<typeof TaskLaunch>;

/** An attempt's log as the archive holds it: its containers (init containers first), or the pod already gone. */
export const ArchivedLog = /* @__PURE__ */ schema(() =>
  z.object({
    attempt: z.int(),
    containers: z.array(z.string()),
    /** The pod was gone before its log could be copied: the archive holds a record saying so, not a log. */
    gone: z.optional(z.boolean()),
  }),
);
export type ArchivedLog = z.infer<typeof ArchivedLog>;

const EffectBase = /* @__PURE__ */ schema(() => ({ key: z.string(), runId: z.string() }));
export const OutboxEffect = /* @__PURE__ */ schema(() =>
  z.discriminatedUnion("type", [
    z.object({
      ...EffectBase,
      type: z.literal("cancelTask"),
      task: z.string(),
      attempt: z.number(),
      jobName: z.string(),
    }),
    z.object({ ...EffectBase, type: z.literal("notify"), event: NotifyEvent, task: z.optional(z.string()) }),
    z.object({ ...EffectBase, type: z.literal("commitStatus"), state: CommitState }),
    /** Cancel another run (an older one of the same concurrency group). */
    z.object({ ...EffectBase, type: z.literal("cancelRun"), target: z.string() }),
    /**
     * Copy an ended attempt's log (every container) to the log archive, then delete its Job: a Job is deleted by
     * hookflow only once its log is kept. With a cancelTask for the same Job, the attempt is stopped first (its
     * pod kept), then copied, then deleted.
     */
    z.object({
      ...EffectBase,
      type: z.literal("archiveLog"),
      task: z.string(),
      attempt: z.number(),
      jobName: z.string(),
    }),
    /** Ask the runs waiting in a concurrency group to look again. */
    z.object({ ...EffectBase, type: z.literal("wakeGroup"), group: z.string() }),
    /**
     * An attempt ended: give back the pipeline slot it may hold (`maxRunningTasks`), once its Job is canceled if a
     * cancel is owed too, and let the oldest attempts waiting for room try again. Safe to carry out twice.
     */
    z.object({
      ...EffectBase,
      type: z.literal("releaseSlot"),
      task: z.string(),
      attempt: z.number(),
      jobName: z.string(),
    }),
  ]),
);
export type OutboxEffect = z.infer<typeof OutboxEffect>;

export const SubmitEffect = /* @__PURE__ */ schema(() =>
  z.object({ ...EffectBase, type: z.literal("submitTask"), launch: TaskLaunch }),
);
export type SubmitEffect = z.infer<typeof SubmitEffect>;
export type Effect = OutboxEffect | SubmitEffect;

/** Effects on a run's Jobs and slots that keep a finished run in the reconciler's view until carried out. */
const OWED_AFTER_THE_END: ReadonlySet<OutboxEffect["type"]> = new Set([
  "archiveLog",
  "cancelTask",
  "releaseSlot",
]);

/**
 * Whether the reconciler still looks at a run: while it is unfinished, and after, while it owes work on its
 * Jobs or slots (an attempt's log still to copy to the archive, a Job still to cancel, a slot still to give
 * back), so that a failed copy or release is retried.
 */
export function needsReconciling(run: Pick<Run, "status" | "outbox">): boolean {
  return !isTerminalRun(run.status) || run.outbox.some((e) => OWED_AFTER_THE_END.has(e.type));
}
