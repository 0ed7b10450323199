import type { Run, RunReason, RunStatus, StageState, Task, TaskState } from "../model/index.js";
import { isActiveTask, isTerminalTask } from "../model/index.js";

export type StageStatus = RunStatus | "skipped";

/** A task failure that fails its stage: failed and not `ignoreFailed`. */
export function failsStage(task: TaskState, def: Task): boolean {
  return task.status === "failed" && !def.ignoreFailed;
}

/**
 * A stage's status, from its tasks:
 * - all pending: pending; any queued or running: running; else any waiting: waiting;
 * - some terminal and the rest pending: running (the next task is about to start);
 * - all terminal: failed if a task failed without ignoreFailed, canceled if any was canceled,
 *   skipped if all were skipped, else succeeded.
 */
export function stageStatus(stage: StageState, defs: readonly Task[]): StageStatus {
  const tasks = stage.tasks;
  if (tasks.every((t) => t.status === "pending")) return "pending";
  if (tasks.some((t) => isActiveTask(t.status))) return "running";
  if (tasks.some((t) => t.status === "waiting")) return "waiting";
  if (!tasks.every((t) => isTerminalTask(t.status))) return "running";
  if (tasks.some((t, i) => failsStage(t, defs[i] as Task))) return "failed";
  if (tasks.some((t) => t.status === "canceled")) return "canceled";
  if (tasks.every((t) => t.status === "skipped")) return "skipped";
  return "succeeded";
}

export interface RunStatusVerdict {
  status: RunStatus;
  reason: RunReason;
  message?: string;
}

/**
 * A started, unfinished run's status, from its stages:
 * - a stage failed: failed, naming the first failed task and its message;
 * - every stage terminal: succeeded;
 * - a task queued or running anywhere: running;
 * - a task waiting for approval: waiting;
 * - otherwise running (the planner starts the next task in the same transition).
 */
export function runStatus(run: Run): RunStatusVerdict {
  for (const [s, stage] of run.stages.entries()) {
    const defs = run.definition.stages[s]?.tasks ?? [];
    if (stageStatus(stage, defs) === "failed") {
      const failed = stage.tasks.find((t, i) => failsStage(t, defs[i] as Task)) as TaskState;
      return {
        status: "failed",
        reason: "Failed",
        message: `task ${failed.name} failed${failed.message ? `: ${failed.message}` : ""}`,
      };
    }
  }
  const tasks = run.stages.flatMap((stage) => stage.tasks);
  if (tasks.every((t) => isTerminalTask(t.status))) return { status: "succeeded", reason: "Succeeded" };
  if (tasks.some((t) => isActiveTask(t.status))) return { status: "running", reason: "Running" };
  const waiting = tasks.find((t) => t.status === "waiting");
  if (waiting)
    return {
      status: "waiting",
      reason: "WaitingForApproval",
      message: `task ${waiting.name} waits for approval`,
    };
  return { status: "running", reason: "Running" };
}
