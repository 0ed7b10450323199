import {
  DEFAULT_TASK_TIMEOUT_SECONDS,
  isActiveTask,
  isTerminalRun,
  isTerminalTask,
  isUntrustedRun,
  type Task,
  type TaskState,
} from "../model/index.js";
import {
  cancelJob,
  type Draft,
  emit,
  failAttempt,
  finishTask,
  notify,
  queueAttempt,
  reportCommitState,
  taskDef,
} from "./lifecycle.js";
import { failsStage, runStatus, stageStatus } from "./status.js";
import { whenMatches } from "./triggers.js";

/** Starts a run that its concurrency group lets through; otherwise says what it waits for. */
export function admit(d: Draft, groupAhead: readonly string[]): void {
  const run = d.run;
  if (run.status !== "pending" || run.startedAt) return;
  if (groupAhead.length > 0) {
    if (!run.definition.concurrency?.cancelInProgress) {
      run.reason = "WaitingForGroup";
      run.message = `waiting for ${groupAhead.join(", ")} in concurrency group ${run.concurrencyGroup}`;
      return;
    }
    for (const target of groupAhead)
      emit(d, { type: "cancelRun", key: `cancel-run:${target}:by:${run.id}`, runId: run.id, target });
  }
  run.status = "running";
  run.reason = "Running";
  run.message = undefined;
  run.startedAt = d.now;
  notify(d, "run.started");
  reportCommitState(d, "pending");
}

/** After any event: apply timeouts, start what can start, and derive the run's status. */
export function settle(d: Draft): void {
  const run = d.run;
  if (isTerminalRun(run.status) || !run.startedAt) return;
  for (const task of run.stages.flatMap((s) => s.tasks))
    if (isActiveTask(task.status) && task.deadline && task.deadline <= d.now) timeOut(d, task);
  while (step(d)) {}
  const verdict = runStatus(run);
  if (verdict.status === "succeeded" || verdict.status === "failed") {
    finishRun(d, verdict.status, verdict.reason, verdict.message);
    return;
  }
  run.status = verdict.status;
  run.reason = verdict.reason;
  run.message = verdict.message;
}

export function timeOut(d: Draft, task: TaskState): void {
  cancelJob(d, task);
  const seconds = taskDef(d.run, task.name).timeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS;
  // A task its runner never accepted says why, rather than only that its time ran out.
  const why = !task.submittedAt && task.message?.startsWith("submission failing") ? `; ${task.message}` : "";
  failAttempt(d, task, "TimedOut", `timed out after ${seconds}s${why}`);
}

export function finishRun(
  d: Draft,
  status: "succeeded" | "failed" | "canceled",
  reason: Draft["run"]["reason"],
  message?: string,
): void {
  const run = d.run;
  run.status = status;
  run.reason = reason;
  run.message = message;
  run.finishedAt = d.now;
  notify(d, `run.${status}`);
  reportCommitState(d, status === "succeeded" ? "success" : status === "failed" ? "failure" : "error");
  if (run.concurrencyGroup)
    emit(d, {
      type: "wakeGroup",
      key: `wake:${run.id}:${run.round}`,
      runId: run.id,
      group: run.concurrencyGroup,
    });
}

/**
 * One planning step over the first unfinished stage (stages run strictly in order). Returns whether it changed
 * anything, so the caller repeats until the plan is stable: a skipped task lets the next one start at once.
 */
function step(d: Draft): boolean {
  for (const [s, stage] of d.run.stages.entries()) {
    const defs = d.run.definition.stages[s]?.tasks as Task[];
    const status = stageStatus(stage, defs);
    if (status === "succeeded" || status === "skipped") continue;
    if (status === "failed" || status === "canceled")
      return skipPendingFrom(d, s + 1, `stage ${stage.name} failed`);
    if (stage.parallel) {
      const pending = stage.tasks.filter((t) => t.status === "pending");
      for (const task of pending) startTask(d, task, defs[stage.tasks.indexOf(task)] as Task);
      return pending.length > 0;
    }
    const failed = stage.tasks.findIndex((t, i) => failsStage(t, defs[i] as Task));
    if (failed >= 0)
      return skipTasks(d, stage.tasks.slice(failed + 1), `task ${stage.tasks[failed]?.name} failed`);
    const next = stage.tasks.findIndex((t) => !isTerminalTask(t.status));
    const task = stage.tasks[next];
    if (task?.status !== "pending") return false;
    startTask(d, task, defs[next] as Task);
    return true;
  }
  return false;
}

function startTask(d: Draft, task: TaskState, def: Task): void {
  if (!whenMatches(def, d.run.trigger)) {
    finishTask(d, task, "skipped", "WhenNotMatched", "`when` does not match this run");
    return;
  }
  if (def.approval && task.approval?.decision !== "approved") {
    task.status = "waiting";
    if (isUntrustedRun(d.run)) {
      task.reason = "HeldUntrusted";
      task.message = `held: a pull request from a fork; trust the run before ${def.approval.approvers.join(" or ")} can approve`;
    } else {
      task.reason = "AwaitingApproval";
      task.message = `waiting for approval by ${def.approval.approvers.join(" or ")}`;
    }
    notify(d, "task.waiting", task);
    return;
  }
  queueAttempt(d, task);
}

function skipTasks(d: Draft, tasks: TaskState[], because: string): boolean {
  const pending = tasks.filter((t) => t.status === "pending" || t.status === "waiting");
  for (const task of pending) finishTask(d, task, "skipped", "UpstreamFailed", because);
  return pending.length > 0;
}

function skipPendingFrom(d: Draft, firstStage: number, because: string): boolean {
  return skipTasks(
    d,
    d.run.stages.slice(firstStage).flatMap((s) => s.tasks),
    because,
  );
}
