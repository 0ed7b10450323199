import {
  type ArchivedLog,
  ATTEMPTS_KEPT_PER_TASK,
  type AttemptRecord,
  byteLength,
  type CommitState,
  clipText,
  isActiveTask,
  LIMITS,
  MAX_BACKOFF_SECONDS,
  type NotifyEvent,
  type OutboxEffect,
  type Run,
  retryPolicy,
  runStagesOf,
  type SubmitEffect,
  type Task,
  type TaskReason,
  type TaskState,
  type TaskStatus,
  timeoutGraceSeconds,
} from "../model/index.js";
import { jobNameFor } from "./names.js";
import { renderTask } from "./render.js";

/**
 * The working state of one transition: the run being changed and the effects it owes. Helpers here are the only
 * code that changes a task's status, so every change emits what it must.
 */
export interface Draft {
  run: Run;
  now: string;
  /** Submissions decided in this transition (not kept in the outbox: a queued, unsubmitted task implies one). */
  submits: SubmitEffect[];
}

const MAX_DELIVERY_FAILURES = 50;
/** A run item stays small: the attempts listed per task are the newest ones (older archives are still kept). */
const MAX_ARCHIVED_LOGS_LISTED = 50;

export function taskDef(run: Run, name: string): Task {
  for (const stage of runStagesOf(run.definition))
    for (const task of stage.tasks) if (task.name === name) return task;
  throw new Error(`task ${name} is not in pipeline ${run.pipeline}`);
}

/** The definitions of the tasks of a run's stage `s` (the finally stage included), in the stage's order. */
export function stageDefs(run: Run, s: number): Task[] {
  return runStagesOf(run.definition)[s]?.tasks ?? [];
}

export function findTaskState(run: Run, name: string): TaskState | undefined {
  for (const stage of run.stages) for (const task of stage.tasks) if (task.name === name) return task;
  return undefined;
}

/** Adds an effect to the outbox, once per idempotency key. */
export function emit(d: Draft, effect: OutboxEffect): void {
  if (!d.run.outbox.some((e) => e.key === effect.key)) d.run.outbox.push(effect);
}

export function notify(d: Draft, event: NotifyEvent, task?: TaskState): void {
  if (!d.run.definition.notify.some((n) => n.on.includes(event))) return;
  const suffix = task ? `:${task.name}:${task.attempt}` : "";
  emit(d, {
    type: "notify",
    key: `notify:${d.run.id}:${d.run.round}:${event}${suffix}`,
    runId: d.run.id,
    event,
    ...(task && { task: task.name }),
  });
}

export function reportCommitState(d: Draft, state: CommitState): void {
  if (!d.run.commitStatus) return;
  emit(d, {
    type: "commitStatus",
    key: `status:${d.run.id}:${d.run.round}:${state}`,
    runId: d.run.id,
    state,
  });
}

export function cancelJob(d: Draft, task: TaskState): void {
  if (!task.jobName) return;
  emit(d, {
    type: "cancelTask",
    key: `cancel:${task.jobName}`,
    runId: d.run.id,
    task: task.name,
    attempt: task.attempt,
    jobName: task.jobName,
  });
}

/** Ends that only the attempt's own Job can report: it ran, even if its submission was not confirmed yet. */
const REPORTED_BY_THE_JOB: ReadonlySet<TaskReason> = new Set(["Succeeded", "Failed", "OutputsTooLarge"]);

/**
 * An attempt that reached its runner has ended (succeeded, failed, timed out, canceled, lost): its log is owed to
 * the archive, and its Job is deleted once the log is kept. Called before the task leaves the attempt. An attempt
 * never confirmed submitted counts when its end came from the Job itself (a fast task reports before the
 * scheduler records its submission); one canceled or refused before that owes nothing.
 */
export function archiveLog(d: Draft, task: TaskState, reason: TaskReason): void {
  if (!task.jobName || !isActiveTask(task.status)) return;
  if (!task.submittedAt && !REPORTED_BY_THE_JOB.has(reason)) return;
  emit(d, {
    type: "archiveLog",
    key: `archive:${task.jobName}`,
    runId: d.run.id,
    task: task.name,
    attempt: task.attempt,
    jobName: task.jobName,
  });
}

/**
 * An attempt that may hold one of its pipeline's running-task slots (`maxRunningTasks`, counted across runs by
 * the scheduler) has ended: the slot is owed back. Every queued or running attempt with a Job name owes it, even
 * one never confirmed submitted (its slot may have been taken just before a crash); giving back a slot that was
 * never taken changes nothing. Called before the task leaves the attempt, as archiveLog is.
 */
export function releaseSlot(d: Draft, task: TaskState): void {
  if (!task.jobName || !isActiveTask(task.status)) return;
  emit(d, {
    type: "releaseSlot",
    key: `slot:${task.jobName}`,
    runId: d.run.id,
    task: task.name,
    attempt: task.attempt,
    jobName: task.jobName,
  });
}

/**
 * The attempt got its slot (it was submitted, or reported itself): it stops waiting for room, and its timeout
 * counts from now, as long as it was given when it was queued; waiting for room never times a task out.
 */
export function leaveRoomWait(d: Draft, task: TaskState): void {
  if (task.reason !== "WaitingForRoom") return;
  if (task.deadline && task.queuedAt)
    task.deadline = new Date(
      Date.parse(d.now) + Date.parse(task.deadline) - Date.parse(task.queuedAt),
    ).toISOString();
  task.reason = "Queued";
  task.message = undefined;
}

/** The archive kept an attempt's log (or recorded its pod gone): the task lists it; earlier entries stay. */
export function recordArchivedLog(task: TaskState, log: ArchivedLog): void {
  const kept = (task.logs ?? []).filter((l) => l.attempt !== log.attempt);
  task.logs = [...kept, log].sort((a, b) => a.attempt - b.attempt).slice(-MAX_ARCHIVED_LOGS_LISTED);
}

export function recordDeliveryFailure(d: Draft, key: string, target: string, error: string): void {
  d.run.deliveryFailures.push({ key, target, error, at: d.now });
  d.run.deliveryFailures.splice(0, Math.max(0, d.run.deliveryFailures.length - MAX_DELIVERY_FAILURES));
}

export function finishTask(
  d: Draft,
  task: TaskState,
  status: Extract<TaskStatus, "succeeded" | "failed" | "canceled" | "skipped">,
  reason: TaskReason,
  message?: string,
): void {
  archiveLog(d, task, reason);
  releaseSlot(d, task);
  task.status = status;
  task.reason = reason;
  task.message = message === undefined ? undefined : clipText(message, LIMITS.messageBytes);
  task.finishedAt = d.now;
  task.deadline = undefined;
  // A retry waiting for its backoff (canceled or skipped meanwhile) waits no more: nothing is due at its time.
  task.retryAt = undefined;
  if (status === "succeeded") notify(d, "task.succeeded", task);
  if (status === "failed") notify(d, "task.failed", task);
}

/**
 * Keeps the current attempt, as it ended, in the task's history before a retry or a rerun replaces it: the newest
 * ATTEMPTS_KEPT_PER_TASK per task, and the oldest of the whole run dropped beyond LIMITS.historyBytesPerRun.
 */
export function keepAttempt(
  d: Draft,
  task: TaskState,
  ended: Pick<AttemptRecord, "status" | "reason" | "message">,
): void {
  if (task.attempt === 0) return;
  const record: AttemptRecord = {
    attempt: task.attempt,
    round: d.run.round,
    ...ended,
    ...(task.jobName && { jobName: task.jobName }),
    ...(task.startedAt && { startedAt: task.startedAt }),
    finishedAt: task.finishedAt ?? d.now,
    outputs: task.outputs,
  };
  task.history = [...(task.history ?? []), JSON.parse(JSON.stringify(record))].slice(-ATTEMPTS_KEPT_PER_TASK);
  const tasks = d.run.stages.flatMap((s) => s.tasks);
  let bytes = tasks.reduce((sum, t) => sum + byteLength(JSON.stringify(t.history ?? [])), 0);
  while (bytes > LIMITS.historyBytesPerRun) {
    const oldest = tasks
      .filter((t) => (t.history ?? []).length > 0)
      .reduce((a, b) => (olderRecord(a.history?.[0], b.history?.[0]) ? a : b));
    bytes -= byteLength(JSON.stringify(oldest.history?.shift())) + 1;
  }
}

/** Whether record `a` is older than (or as old as) `b`: an earlier round, or earlier within one. */
function olderRecord(a: AttemptRecord | undefined, b: AttemptRecord | undefined): boolean {
  if (!a || !b) return a !== undefined;
  return a.round !== b.round ? a.round < b.round : (a.finishedAt ?? "") <= (b.finishedAt ?? "");
}

/** Starts the next attempt: renders it, and either queues it for submission or fails it (a spec error repeats). */
export function queueAttempt(d: Draft, task: TaskState): void {
  const attempt = task.attempt + 1;
  const jobName = jobNameFor(d.run.id, task.name, attempt);
  const rendered = renderTask(d.run, task.name, attempt, jobName);
  if (!rendered.ok) {
    finishTask(d, task, "failed", rendered.reason, rendered.message);
    return;
  }
  const timeout = rendered.launch.timeoutSeconds + timeoutGraceSeconds(rendered.launch.timeoutSeconds);
  Object.assign(task, {
    attempt,
    jobName,
    status: "queued",
    reason: "Queued",
    queuedAt: d.now,
    submittedAt: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    deadline: new Date(Date.parse(d.now) + timeout * 1000).toISOString(),
    retryAt: undefined,
    outputs: {},
    refusedOutputs: undefined,
  } satisfies Partial<TaskState>);
  d.submits.push({ type: "submitTask", key: `submit:${jobName}`, runId: d.run.id, launch: rendered.launch });
}

const RETRYABLE: ReadonlySet<TaskReason> = new Set(["Failed", "TimedOut", "Lost"]);

/**
 * An attempt ended badly: retry while `retries` allow and the cause may pass, else fail the task. With a backoff,
 * the task waits, pending, until `retryAt`; the next look at the run after it starts the retry: the wake-up the
 * scheduler asks for at `retryAt` (`dueMoments`), any other event, or at the latest the reconciler's tick.
 */
export function failAttempt(d: Draft, task: TaskState, reason: TaskReason, message: string): void {
  const policy = retryPolicy(taskDef(d.run, task.name).retries);
  const attemptsThisRound = task.attempt - task.roundStart;
  if (!RETRYABLE.has(reason) || attemptsThisRound >= policy.limit + 1) {
    finishTask(d, task, "failed", reason, message);
    return;
  }
  const failed = task.attempt;
  archiveLog(d, task, reason);
  releaseSlot(d, task);
  keepAttempt(d, task, { status: "failed", reason, message: clipText(message, LIMITS.messageBytes) });
  const wait = Math.min(policy.backoffSeconds * 2 ** (attemptsThisRound - 1), MAX_BACKOFF_SECONDS);
  if (wait > 0) {
    Object.assign(task, {
      status: "pending",
      reason: "RetryWaiting",
      retryAt: new Date(Date.parse(d.now) + wait * 1000).toISOString(),
      deadline: undefined,
      outputs: {},
    } satisfies Partial<TaskState>);
    task.message = clipText(`attempt ${failed}: ${message}; retrying in ${wait}s`, LIMITS.messageBytes);
    return;
  }
  queueAttempt(d, task);
  if (task.status === "queued")
    task.message = clipText(`attempt ${failed}: ${message}; retrying`, LIMITS.messageBytes);
}
