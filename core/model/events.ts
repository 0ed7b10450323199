import * as z from "zod/mini";
import { schema } from "./schema.js";

const TaskRef = /* @__PURE__ */ schema(() => ({ task: z.string(), attempt: z.int().check(z.gte(1)) }));
/** Outputs as an object, or as the `KEY=VALUE` lines of a termination message. */
export const OutputsInput = /* @__PURE__ */ schema(() =>
  z.union([z.record(z.string(), z.string()), z.string()]),
);
export type OutputsInput = z.infer<typeof OutputsInput>;

/**
 * The facts the engine folds into a run, each type's schema on its own. Each is safe to apply twice: the second
 * application changes nothing. Task events name the attempt they are about; an event for an older attempt is
 * ignored. A work message carries one event and is parsed with its type's schema alone
 * (core/services/batch.ts): building all of them cost about 2 ms of a cold start (issue 20).
 */
export const RUN_EVENTS = {
  /** `groupAhead`: ids of older active runs in this run's concurrency group, as the store sees them now. */
  "run.created": /* @__PURE__ */ schema(() =>
    z.object({ type: z.literal("run.created"), groupAhead: z.optional(z.array(z.string())) }),
  ),
  /** Look again: apply timeouts, start what can start, re-emit what is owed. */
  reconcile: /* @__PURE__ */ schema(() =>
    z.object({ type: z.literal("reconcile"), groupAhead: z.optional(z.array(z.string())) }),
  ),
  "task.submitted": /* @__PURE__ */ schema(() => z.object({ type: z.literal("task.submitted"), ...TaskRef })),
  /**
   * `relay`: the relay saw the attempt's pod running, so it watches the Job and will report its end: the attempt
   * needs no follow-up observations (core/engine/follow-up.ts). Only the relay's report route sets it.
   */
  "task.started": /* @__PURE__ */ schema(() =>
    z.object({ type: z.literal("task.started"), ...TaskRef, relay: z.optional(z.boolean()) }),
  ),
  "task.outputs": /* @__PURE__ */ schema(() =>
    z.object({ type: z.literal("task.outputs"), ...TaskRef, outputs: OutputsInput }),
  ),
  "task.succeeded": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("task.succeeded"),
      ...TaskRef,
      outputs: z.optional(OutputsInput),
      message: z.optional(z.string()),
    }),
  ),
  "task.failed": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("task.failed"),
      ...TaskRef,
      message: z.string(),
      reason: z.optional(z.enum(["Failed", "SubmitRejected", "InvalidSpec"])),
    }),
  ),
  /** The task's Job is gone while it was submitted: never a success. */
  "task.lost": /* @__PURE__ */ schema(() => z.object({ type: z.literal("task.lost"), ...TaskRef })),
  /** Submitting failed in a way that may pass (the cluster's API is down): retried; the error is shown. */
  "task.submitFailed": /* @__PURE__ */ schema(() =>
    z.object({ type: z.literal("task.submitFailed"), ...TaskRef, message: z.string() }),
  ),
  "task.timedOut": /* @__PURE__ */ schema(() => z.object({ type: z.literal("task.timedOut"), ...TaskRef })),
  /** The pipeline's `limit` running tasks (`maxRunningTasks`, across its runs) are taken: the attempt waits, queued. */
  "task.waitingForRoom": /* @__PURE__ */ schema(() =>
    z.object({ type: z.literal("task.waitingForRoom"), ...TaskRef, limit: z.int().check(z.gte(1)) }),
  ),
  "approval.granted": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("approval.granted"),
      task: z.string(),
      /** The deciding principal's username. */
      by: z.string(),
      /** The principal's email, when the provider verified it: an approver may be listed by either. */
      email: z.optional(z.string()),
      comment: z.optional(z.string()),
    }),
  ),
  "approval.denied": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("approval.denied"),
      task: z.string(),
      /** The deciding principal's username. */
      by: z.string(),
      /** The principal's email, when the provider verified it: an approver may be listed by either. */
      email: z.optional(z.string()),
      comment: z.optional(z.string()),
    }),
  ),
  /** Someone allowed to approve trusts a fork's pull request run: later attempts get sensitive values. */
  "run.trusted": /* @__PURE__ */ schema(() => z.object({ type: z.literal("run.trusted"), by: z.string() })),
  /** Cancel the run, or with `task` that task alone (a failure its `ignoreFailed` may absorb). */
  "cancel.requested": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("cancel.requested"),
      by: z.optional(z.string()),
      byRun: z.optional(z.string()),
      task: z.optional(z.string()),
    }),
  ),
  /** Run a finished run again: all of it, its failed part, or one `task` (with what runs after it: `downstream`). */
  "rerun.requested": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("rerun.requested"),
      failedOnly: z.optional(z.boolean()),
      task: z.optional(z.string()),
      downstream: z.optional(z.boolean()),
      groupAhead: z.optional(z.array(z.string())),
    }),
  ),
  /** An archiveLog effect carried out: the attempt's log is kept (its containers), or its pod was gone. */
  "log.archived": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("log.archived"),
      key: z.string(),
      task: z.string(),
      attempt: z.int().check(z.gte(1)),
      containers: z.array(z.string()),
      gone: z.optional(z.boolean()),
    }),
  ),
  /** Outbox effects carried out (or given up on, with the error recorded on the run). */
  "outbox.delivered": /* @__PURE__ */ schema(() =>
    z.object({
      type: z.literal("outbox.delivered"),
      results: z.array(
        z.object({ key: z.string(), target: z.optional(z.string()), error: z.optional(z.string()) }),
      ),
    }),
  ),
};
export type RunEvent = {
  [T in keyof typeof RUN_EVENTS]: z.infer<(typeof RUN_EVENTS)[T]>;
}[keyof typeof RUN_EVENTS];

/** Why an event changed nothing. Edges map these to HTTP answers (409, 403, 404). */
export const IgnoredReason = /* @__PURE__ */ schema(() =>
  z.enum([
    "Duplicate",
    "StaleAttempt",
    "UnknownTask",
    "TaskTerminal",
    "RunTerminal",
    "RunActive",
    "NotWaitingForApproval",
    "NotAnApprover",
    "SelfApproval",
    "NothingToRerun",
    /** An approval asked of a fork's run before it is trusted. */
    "UntrustedRun",
    /** Trust asked of a run that is not a fork's pull request, or already trusted. */
    "NothingToTrust",
  ]),
);
export type IgnoredReason = z.infer<typeof IgnoredReason>;
