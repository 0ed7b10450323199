import { jobNameFor } from "../engine/index.js";
import { ForbiddenError, NotFoundError, TooLargeError } from "../errors.js";
import { isActiveTask, LIMITS, RELAY, type Run, type TaskState } from "../model/index.js";
import type { JobObservation, RunStore } from "../ports.js";
import type { RunCommands } from "./commands.js";
import { observationEvent } from "./scheduler.js";

/** What the relay saw of one of hookflow's Jobs (the body of `POST /callbacks/relay`). */
export interface RelayReport {
  jobName: string;
  runId: string;
  task: string;
  attempt: number;
  observation: JobObservation & { state: "running" | "succeeded" | "failed" };
}

export interface RelayAnswer {
  run: string;
  task: string;
  attempt: number;
  /** "ignored": the run already knew it, or the attempt is no longer current (a stale or repeated report). */
  outcome: "accepted" | "ignored";
  status?: string;
}

/**
 * The relay's reports, folded in exactly as the scheduler's own observations are (`observationEvent`), with the
 * relay as the actor. The Job must be the one hookflow named for the run, task and attempt the report claims
 * (Job names are derived from them), so a relay can speak only of hookflow's own Jobs, and only of what a Job
 * shows: it cannot report outputs a Job's termination message does not carry any more than the scheduler could.
 */
export class RelayReports {
  constructor(private readonly deps: { commands: RunCommands; runs: RunStore }) {}

  async report(report: RelayReport): Promise<RelayAnswer> {
    const { runId, task: taskName, attempt, jobName } = report;
    if (jobNameFor(runId, taskName, attempt) !== jobName)
      throw new ForbiddenError(
        `Job "${jobName}" is not attempt ${attempt} of task "${taskName}" of run ${runId}`,
      );
    const message = report.observation.terminationMessage;
    if (message !== undefined && Buffer.byteLength(message) > LIMITS.outputBytesPerTask)
      throw new TooLargeError(
        `the termination message is ${Buffer.byteLength(message)} bytes; a task may report at most ${LIMITS.outputBytesPerTask}`,
      );
    const run = await this.deps.runs.getRun(runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    const task = run.stages.flatMap((s) => s.tasks).find((t) => t.name === taskName);
    if (!task) throw new NotFoundError(`run ${runId} has no task "${taskName}"`);
    const answer = { run: runId, task: taskName, attempt };
    // An earlier attempt's Job, or one the run has not recorded as submitted: nothing of this run to change.
    const event =
      task.attempt === attempt && task.jobName === jobName
        ? relayEvent(run, task, report.observation)
        : undefined;
    if (!event) return { ...answer, outcome: "ignored", status: task.status };
    const handled = await this.deps.commands.handle(runId, event, RELAY, { known: run });
    const now = handled.run.stages.flatMap((s) => s.tasks).find((t) => t.name === taskName);
    return {
      ...answer,
      outcome: handled.outcome === "accepted" ? "accepted" : "ignored",
      status: now?.status,
    };
  }
}

/**
 * What a relay report means for its task: as the scheduler's own observation, except that a running Job is news
 * until the relay has said so for this attempt, even when the run knew it ran: from then on the relay reports its
 * end, so the attempt's follow-up observations stop (core/engine/follow-up.ts).
 */
export function relayEvent(run: Run, task: TaskState, seen: RelayReport["observation"]) {
  if (seen.state !== "running") return observationEvent(run, task, seen);
  return isActiveTask(task.status) && task.relayedAttempt !== task.attempt
    ? { type: "task.started" as const, task: task.name, attempt: task.attempt, relay: true }
    : undefined;
}
