import type { Run, RunReason, RunStatus, StageState, Task, TaskState } from "../model/index.js";
import { isActiveTask, isTerminalTask, runStagesOf } from "../model/index.js";

export type StageStatus = RunStatus | "skipped";

/**
 * A task end that fails its stage: failed or canceled alone, unless `ignoreFailed`; and any task the run's own
 * timeout ended, whatever `ignoreFailed` says (a run past its time never succeeds).
 */
export function failsStage(task: TaskState, def: Task): boolean {
  if (task.reason === "RunTimedOut") return true;
  return (task.status === "failed" || task.status === "canceled") && !def.ignoreFailed;
}

/**
 * A stage's status, from its tasks:
 * - all pending: pending; any queued or running: running; else any waiting: waiting;
 * - some terminal and the rest pending: running (the next task is about to start, or waits for its needs);
 * - all terminal: failed if a task failed that fails the stage, canceled if only canceled ones do,
 *   skipped if all were skipped, else succeeded.
 */
export function stageStatus(stage: StageState, defs: readonly Task[]): StageStatus {
  const tasks = stage.tasks;
  if (tasks.every((t) => t.status === "pending")) return "pending";
  if (tasks.some((t) => isActiveTask(t.status))) return "running";
  if (tasks.some((t) => t.status === "waiting")) return "waiting";
  if (!tasks.every((t) => isTerminalTask(t.status))) return "running";
  const failing = tasks.filter((t, i) => failsStage(t, defs[i] as Task));
  if (failing.some((t) => t.status === "failed")) return "failed";
  if (failing.length > 0) return "canceled";
  if (tasks.every((t) => t.status === "skipped")) return "skipped";
  return "succeeded";
}

export interface RunStatusVerdict {
  status: RunStatus;
  reason: RunReason;
  message?: string;
}

/**
 * A started, unfinished run's status, from its stages (the finally stage last):
 * - a task queued or running anywhere: running;
 * - a task waiting for approval: waiting;
 * - a task not yet ended: running (the planner starts it, or it waits for its needs, a retry or room);
 * - every task ended: failed if a stage failed or was canceled, naming the first task at fault (so a finally
 *   task never turns a failed run into a success), else succeeded.
 */
export function runStatus(run: Run): RunStatusVerdict {
  const tasks = run.stages.flatMap((stage) => stage.tasks);
  if (tasks.some((t) => isActiveTask(t.status))) return { status: "running", reason: "Running" };
  const waiting = tasks.find((t) => t.status === "waiting");
  if (waiting)
    return {
      status: "waiting",
      reason: "WaitingForApproval",
      message: `task ${waiting.name} waits for approval`,
    };
  if (!tasks.every((t) => isTerminalTask(t.status))) return { status: "running", reason: "Running" };
  const fault = firstFault(run);
  return fault
    ? { status: "failed", reason: "Failed", message: fault }
    : { status: "succeeded", reason: "Succeeded" };
}

/** What fails the run, once its tasks have ended: the first task that failed its stage, said for people. */
export function firstFault(run: Run, options: { mainOnly?: boolean } = {}): string | undefined {
  const defs = runStagesOf(run.definition);
  for (const [s, stage] of run.stages.entries()) {
    if (options.mainOnly && stage.finally) continue;
    const stageDefs = defs[s]?.tasks ?? [];
    const task = stage.tasks.find((t, i) => isTerminalTask(t.status) && failsStage(t, stageDefs[i] as Task));
    if (!task) continue;
    if (task.reason === "RunTimedOut") return `the run timed out after ${run.definition.timeoutSeconds}s`;
    const what = task.status === "canceled" ? "was canceled" : "failed";
    return `task ${task.name} ${what}${task.message ? `: ${task.message}` : ""}`;
  }
  return undefined;
}
