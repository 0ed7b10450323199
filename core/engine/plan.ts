import {
  DEFAULT_MAX_RUNNING_TASKS,
  DEFAULT_TASK_TIMEOUT_SECONDS,
  isActiveTask,
  isTerminalRun,
  isTerminalTask,
  isUntrustedRun,
  type Run,
  type StageState,
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
  stageDefs,
  taskDef,
} from "./lifecycle.js";
import { failsStage, runStatus, stageStatus } from "./status.js";
import { jobRequirementProblem, whenMatches } from "./triggers.js";

/** Starts a run that its concurrency group lets through; otherwise says what it waits for. */
export function admit(d: Draft, groupAhead: readonly string[]): void {
  const run = d.run;
  if (run.status !== "pending" || run.startedAt) return;
  // Up to `concurrency.max` runs of a group at once, the oldest first: this one goes when fewer are ahead of it.
  const max = run.definition.concurrency?.max ?? 1;
  if (groupAhead.length >= max) {
    if (!run.definition.concurrency?.cancelInProgress) {
      run.reason = "WaitingForGroup";
      run.message = `waiting for ${groupAhead.join(", ")} in concurrency group ${run.concurrencyGroup}`;
      return;
    }
    for (const target of groupAhead.slice(0, groupAhead.length - max + 1))
      emit(d, { type: "cancelRun", key: `cancel-run:${target}:by:${run.id}`, runId: run.id, target });
  }
  run.status = "running";
  run.reason = "Running";
  run.message = undefined;
  run.startedAt = d.now;
  notify(d, "run.started");
  reportCommitState(d, "pending");
}

/**
 * Whether the task's deadline has passed at `now` with the task still held to it: an attempt queued or running
 * (its timeout) or waiting for approval (the approval's timeout). Waiting for a slot of the pipeline is not
 * running: its timeout starts once it has one (leaveRoomWait).
 */
export function deadlinePassed(task: TaskState, now: string): boolean {
  if (!task.deadline || task.deadline > now || task.reason === "WaitingForRoom") return false;
  return isActiveTask(task.status) || task.status === "waiting";
}

/** When the run's `timeoutSeconds` (from its start, per round) runs out; undefined without one. */
export function runDeadline(run: Run): string | undefined {
  const seconds = run.definition.timeoutSeconds;
  if (seconds === undefined || !run.startedAt) return undefined;
  return new Date(Date.parse(run.startedAt) + seconds * 1000).toISOString();
}

/** Whether a retry still waits for its backoff at `now` (its `retryAt` has not come). */
export function backoffWaits(task: TaskState, now: string): boolean {
  return task.retryAt !== undefined && task.retryAt > now;
}

/** After any event: apply timeouts, start what can start, and derive the run's status. */
export function settle(d: Draft): void {
  const run = d.run;
  if (isTerminalRun(run.status) || !run.startedAt) return;
  for (const task of run.stages.flatMap((s) => s.tasks)) {
    if (!deadlinePassed(task, d.now)) continue;
    if (isActiveTask(task.status)) timeOut(d, task);
    else approvalTimedOut(d, task);
  }
  timeOutRun(d);
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

/**
 * Past the run's `timeoutSeconds` (from its start, per round), every unfinished task of its stages fails, its Job
 * canceled; the finally tasks still run, each within its own timeout. Decided on any look at the run, like a
 * task's timeout: the wake-up the scheduler asks for at the deadline (`dueMoments`), or the reconciler's tick.
 */
function timeOutRun(d: Draft): void {
  const run = d.run;
  const seconds = run.definition.timeoutSeconds;
  const deadline = runDeadline(run);
  if (!deadline || Date.parse(deadline) > Date.parse(d.now)) return;
  for (const task of run.stages.filter((s) => !s.finally).flatMap((s) => s.tasks)) {
    if (isTerminalTask(task.status)) continue;
    if (isActiveTask(task.status)) cancelJob(d, task);
    finishTask(d, task, "failed", "RunTimedOut", `the run timed out after ${seconds}s`);
  }
}

/**
 * Nobody decided in `approval.timeoutSeconds`: `deny` fails the task (the run fails unless it ignores failures),
 * `skip` skips it and the run goes on. Either way the task ends, so its run can finish and free its concurrency
 * group. Decided on any event, as task timeouts are, so the reconciler's tick is enough to see it (within a
 * minute on AWS). A wake-up at `task.deadline` (WakeUps, as the scheduler's follow-ups use) would end it on
 * the second; not asked for yet.
 */
function approvalTimedOut(d: Draft, task: TaskState): void {
  const gate = taskDef(d.run, task.name).approval;
  const message = `no approval within ${gate?.timeoutSeconds}s`;
  if (gate?.onTimeout === "skip") finishTask(d, task, "skipped", "ApprovalTimedOut", `${message}: skipped`);
  else finishTask(d, task, "failed", "ApprovalTimedOut", `${message}: denied`);
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
 * One planning step. Stages run strictly in order: the first unfinished one plans, and once one fails, the
 * pending tasks of later stages are skipped. When every stage has ended, the finally stage plans. Returns whether
 * it changed anything, so the caller repeats until the plan is stable: a skipped task lets the next one start.
 */
function step(d: Draft): boolean {
  const run = d.run;
  for (const [s, stage] of run.stages.entries()) {
    if (stage.finally) return planStage(d, stage, stageDefs(run, s));
    const status = stageStatus(stage, stageDefs(run, s));
    if (status === "succeeded" || status === "skipped") continue;
    if (status === "failed" || status === "canceled") {
      const later = run.stages.slice(s + 1).filter((st) => !st.finally);
      if (
        skipTasks(
          d,
          later.flatMap((st) => st.tasks),
          `stage ${stage.name} failed`,
        )
      )
        return true;
      const last = run.stages[run.stages.length - 1];
      return last?.finally ? planStage(d, last, stageDefs(run, run.stages.length - 1)) : false;
    }
    return planStage(d, stage, stageDefs(run, s));
  }
  return false;
}

/**
 * Within a stage: a serial stage starts its next task once the one before it ended, and skips the rest after a
 * task that fails it; a parallel stage starts every task whose needs succeeded (a graph; without needs, all at
 * once). A task whose need ended any other way is skipped. No more than `maxRunningTasks` run at once.
 */
function planStage(d: Draft, stage: StageState, defs: Task[]): boolean {
  let changed = false;
  for (const [i, task] of stage.tasks.entries()) {
    if (task.status !== "pending") continue;
    const def = defs[i] as Task;
    if (!stage.parallel) {
      const before = stage.tasks.slice(0, i);
      const failed = before.find((t, j) => failsStage(t, defs[j] as Task));
      if (failed) {
        changed = skipTasks(d, stage.tasks.slice(i), `task ${failed.name} failed`) || changed;
        break;
      }
      if (!before.every((t) => isTerminalTask(t.status))) break;
    }
    const needs = (def.needs ?? []).map((name) => findState(d, name));
    const unmet = needs.find((t) => t && isTerminalTask(t.status) && t.status !== "succeeded");
    if (unmet) {
      finishTask(
        d,
        task,
        "skipped",
        "UpstreamFailed",
        `needs ${unmet.name}, which ${unmet.status === "skipped" ? "was skipped" : unmet.status}`,
      );
      changed = true;
      continue;
    }
    if (!needs.every((t) => t?.status === "succeeded")) continue;
    if (backoffWaits(task, d.now)) continue;
    if (!hasRoom(d)) break;
    startTask(d, task, def);
    changed = true;
  }
  return changed;
}

function findState(d: Draft, name: string): TaskState | undefined {
  for (const stage of d.run.stages) for (const task of stage.tasks) if (task.name === name) return task;
  return undefined;
}

/**
 * Whether another task of the run may be queued now under the pipeline's `maxRunningTasks`. This bounds one run;
 * the same number across the pipeline's runs is counted by the scheduler when it submits (TaskSlots), and a
 * queued attempt over it waits for room.
 */
function hasRoom(d: Draft): boolean {
  const max = d.run.definition.maxRunningTasks ?? DEFAULT_MAX_RUNNING_TASKS;
  return d.run.stages.flatMap((s) => s.tasks).filter((t) => isActiveTask(t.status)).length < max;
}

function startTask(d: Draft, task: TaskState, def: Task): void {
  if (!whenMatches(def, d.run.trigger)) {
    finishTask(d, task, "skipped", "WhenNotMatched", "`when` does not match this run");
    return;
  }
  const notHere = jobRequirementProblem(def, d.run.jobs, d.run.trigger);
  if (notHere) {
    finishTask(d, task, "skipped", "RequirementNotMet", notHere);
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
    if (def.approval.timeoutSeconds !== undefined)
      task.deadline = new Date(Date.parse(d.now) + def.approval.timeoutSeconds * 1000).toISOString();
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
