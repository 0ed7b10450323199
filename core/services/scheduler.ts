import { dueMoments, nextObservationAt } from "../engine/follow-up.js";
import { PermanentError, RetryableError } from "../errors.js";
import type { Run, RunEvent, TaskState } from "../model/index.js";
import { isActiveTask } from "../model/index.js";
import type {
  Clock,
  JobObservation,
  Logger,
  RunMessage,
  RunStore,
  TaskRunner,
  WakeUps,
  WorkMessage,
  WorkQueue,
} from "../ports.js";
import type { Applied, RunService } from "./runs.js";

export interface SchedulerDeps {
  service: RunService;
  runs: RunStore;
  runner: TaskRunner;
  /** Where observation failures are told (once per reconcile), with what to fix, when no logger is handed in. */
  log: Logger;
  /** Follow-up observations of submitted tasks; without it, only the reconciler's tick looks again. */
  followUps?: { wakeUps: WakeUps; clock: Clock };
}

/**
 * Handles work messages. A reconcile message observes the run's Jobs first and folds what it finds into the run
 * (events are hints; the cluster is the truth), then lets the engine apply timeouts and plan. A delivery message
 * carries out one notification or commit status.
 */
export class Scheduler {
  constructor(private readonly deps: SchedulerDeps) {}

  /**
   * Throws RetryableError when something the run needs could not be done now: the message comes back later.
   * `log`: the message's logger (processBatch's, with its id and run), for every line logged while handling it.
   */
  async handle(message: WorkMessage, log: Logger = this.deps.log): Promise<Applied | undefined> {
    if (!("deliver" in message)) return this.apply(message, log);
    await this.deps.service.deliver(message, log);
    return undefined;
  }

  private async apply(message: RunMessage, log: Logger): Promise<Applied> {
    const startedAt = this.deps.followUps?.clock.now();
    const observe = message.event.type === "reconcile" && message.observe !== false;
    const { events, run } = observe
      ? await this.observe(message.runId, log)
      : { events: [message.event], run: undefined };
    // The follow-ups asked for beside each save (a look that comes before its save, or without it, finds nothing
    // due and is dropped: docs/decisions.md, 2), so that the run as applied asks only for what they did not.
    const asked = new Set<string>();
    const beside: Array<Promise<void>> = [];
    let applied: Applied;
    try {
      applied = await this.deps.service.apply(message.runId, events, run, log, {
        ...(startedAt && {
          beside: (next: Run) => beside.push(this.followUp(next, observe, startedAt, log, asked)),
        }),
      });
    } finally {
      await Promise.all(beside);
    }
    if (startedAt) await this.followUp(applied.run, observe, startedAt, log, asked);
    if (applied.retryLater.length > 0)
      throw new RetryableError(
        `run ${message.runId}: ${applied.retryLater.map((e) => e.message).join("; ")}`,
      );
    return applied;
  }

  /**
   * Asks for the next look at the run's submitted tasks after a reconcile that observed them or a message that
   * submitted one: each such look asks for the next, so a chain follows every task until it ends. Other messages
   * (a callback's) ask for nothing, so chains do not multiply; those that do meet on the same instants. `asked`:
   * the instants this message has asked for already, not asked again. Never throws.
   */
  private async followUp(
    run: Run,
    observed: boolean,
    startedAt: string,
    log: Logger,
    asked: Set<string>,
  ): Promise<void> {
    const { wakeUps, clock } = this.deps.followUps as NonNullable<SchedulerDeps["followUps"]>;
    const submitted = run.stages.some((s) =>
      s.tasks.some((t) => t.submittedAt && t.submittedAt >= startedAt),
    );
    if (!observed && !submitted) return;
    const now = clock.now();
    const at = nextObservationAt(run, now);
    // A retry's backoff and the run's timeout, so they act when due rather than at the reconciler's tick.
    const wakes = [...(at ? [{ at, reason: "observe" as const }] : []), ...dueMoments(run, now)];
    // A lost wake-up only delays the run until the reconciler's tick: not worth failing the message.
    for (const wake of wakes) {
      const key = `${wake.at} ${wake.reason}`;
      if (asked.has(key)) continue;
      asked.add(key);
      await wakeUps
        .schedule(run.id, wake.at, wake.reason)
        .catch((error: unknown) =>
          log.warn("follow-up wake-up not scheduled", { runId: run.id, error: String(error) }),
        );
    }
  }

  private async observe(runId: string, log: Logger): Promise<{ events: RunEvent[]; run?: Run }> {
    const loaded = await this.deps.runs.loadRun(runId);
    if (!loaded) return { events: [{ type: "reconcile" }] };
    const { run } = loaded;
    const tasks = run.stages.flatMap((s) => s.tasks).filter((t) => isActiveTask(t.status) && t.jobName);
    const failures: Array<{ task: string; jobName: string; error: string }> = [];
    const observed = await Promise.all(
      tasks.map(async (task) => {
        const ref = {
          runId: run.id,
          task: task.name,
          attempt: task.attempt,
          jobName: task.jobName as string,
        };
        // An observation that fails now (the cluster's API is down) is skipped: the reconcile still applies
        // timeouts, so a task cannot stay running forever behind an unreachable API.
        const seen = await this.deps.runner.observe(ref).catch((error: unknown) => {
          if (!(error instanceof RetryableError || error instanceof PermanentError)) throw error;
          failures.push({ task: ref.task, jobName: ref.jobName, error: error.message });
          return undefined;
        });
        return seen && observationEvent(run, task, seen);
      }),
    );
    if (failures.length > 0)
      log.warn(`could not observe ${failures.length} Job(s) of run ${run.id}`, {
        runId: run.id,
        failures,
      });
    const events: RunEvent[] = [...observed.flatMap((e) => (e ? [e] : [])), { type: "reconcile" }];
    // With reports not yet saved, the recorder loads the run itself, to know that it owes their save.
    return loaded.unsaved ? { events } : { events, run };
  }
}

/** What a Job's observed state means for its task, if anything. */
export function observationEvent(_run: Run, task: TaskState, seen: JobObservation): RunEvent | undefined {
  const ref = { task: task.name, attempt: task.attempt };
  switch (seen.state) {
    case "missing":
      // Unsubmitted: the reconcile submits it. Submitted and gone: lost, never a success.
      return task.submittedAt ? { type: "task.lost", ...ref } : undefined;
    case "pending":
      return task.submittedAt ? undefined : { type: "task.submitted", ...ref };
    case "running":
      return task.status === "queued" ? { type: "task.started", ...ref } : undefined;
    case "succeeded":
      return {
        type: "task.succeeded",
        ...ref,
        ...(seen.terminationMessage && { outputs: seen.terminationMessage }),
      };
    case "failed":
      return { type: "task.failed", ...ref, message: seen.message ?? "the Job failed" };
  }
}

/**
 * A reconcile message for every unfinished run: lost messages and callbacks delay a run, never strand it. The
 * deduplication key names the period, so a second reconciler tick within it adds nothing to the queue.
 */
export async function reconcileAll(
  deps: { runs: RunStore; queue: WorkQueue; clock: Clock },
  periodSeconds = 60,
): Promise<number> {
  const active = await deps.runs.activeRuns();
  const period = Math.floor(Date.parse(deps.clock.now()) / 1000 / periodSeconds);
  await deps.queue.send(
    active.map((run) => ({
      runId: run.id,
      event: { type: "reconcile" },
      dedupKey: `reconcile:${run.id}:${periodSeconds}:${period}`,
    })),
  );
  return active.length;
}
