import { outputBytes } from "../engine/index.js";
import { TooLargeError } from "../errors.js";
import { LIMITS, type RunEvent } from "../model/index.js";
import { type RunCommands, refusalError } from "./commands.js";

/** A task attempt, as its callback URL names it and its token proves. */
export interface TaskAttempt {
  runId: string;
  task: string;
  attempt: number;
}

/** What a task reports about itself (the callback's body). */
export interface TaskReport {
  status: "running" | "succeeded" | "failed";
  message?: string;
  outputs?: Record<string, string>;
}

export interface ReportAnswer {
  run: string;
  task: string;
  attempt: number;
  status?: string;
}

/**
 * A task attempt's report about itself, recorded through the run's one seam (RunCommands) with the task as the
 * actor. The same report again is accepted (a callback retried after its answer was lost); a report that
 * conflicts with how the task ended is refused, saying the task's status.
 */
export class TaskReports {
  constructor(private readonly deps: { commands: RunCommands }) {}

  async report(attempt: TaskAttempt, report: TaskReport): Promise<ReportAnswer> {
    if (report.outputs && outputBytes(report.outputs) > LIMITS.outputBytesPerTask)
      throw new TooLargeError(
        `outputs are ${outputBytes(report.outputs)} bytes; a task may report at most ${LIMITS.outputBytesPerTask}`,
      );
    const handled = await this.deps.commands.handle(attempt.runId, eventFor(attempt, report), {
      kind: "task",
      ...attempt,
    });
    const task = handled.run.stages.flatMap((s) => s.tasks).find((t) => t.name === attempt.task);
    if (handled.outcome === "refused" && handled.refusal.reason !== "Duplicate")
      throw refusalError(handled.refusal, { status: task?.status });
    if (task?.reason === "OutputsTooLarge") throw new TooLargeError(task.message ?? "outputs too large");
    return { run: attempt.runId, task: attempt.task, attempt: attempt.attempt, status: task?.status };
  }
}

function eventFor(ref: TaskAttempt, body: TaskReport): RunEvent {
  const at = { task: ref.task, attempt: ref.attempt };
  switch (body.status) {
    case "running":
      return body.outputs
        ? { type: "task.outputs", ...at, outputs: body.outputs }
        : { type: "task.started", ...at };
    case "succeeded":
      return {
        type: "task.succeeded",
        ...at,
        ...(body.outputs && { outputs: body.outputs }),
        ...(body.message && { message: body.message }),
      };
    case "failed":
      return { type: "task.failed", ...at, message: body.message ?? "the task reported a failure" };
  }
}
