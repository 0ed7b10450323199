import { callbackTaskId, type Ignored, transition } from "../engine/index.js";
import { NotFoundError, PermanentError, VersionConflictError } from "../errors.js";
import type { Effect, OutboxEffect, Run, RunEvent, SubmitEffect, TaskLaunch } from "../model/index.js";
import type { Clock, Logger, RunStore, TaskRunner, WorkQueue } from "../ports.js";
import type { TaskTokens } from "./tokens.js";

/** Delivers notify and commitStatus effects; "deferred" leaves the effect owed (a rate limit is in the way). */
export interface OutboxDelivery {
  deliver(
    run: Run,
    effect: Extract<OutboxEffect, { type: "notify" | "commitStatus" }>,
  ): Promise<Array<{ key: string; target?: string; error?: string }> | "deferred">;
}

export interface RecorderDeps {
  runs: RunStore;
  clock: Clock;
  /** Conflicting writers: reload and re-apply at most this many times. */
  maxConflictRetries?: number;
}

export interface Recorded {
  run: Run;
  /** Per event given, why it did not apply (undefined when it did). */
  ignored: Array<Ignored | undefined>;
  /** What the run now owes: carried out by the scheduler (RunService.apply). */
  effects: Effect[];
}

/**
 * The only way a run changes: load it, apply events through the engine, save on its version, and when another
 * writer won, reload and apply again. Light on purpose (a store and a clock): the callback and API functions
 * record facts with it and leave the effects to the scheduler.
 */
export class RunRecorder {
  private readonly maxConflictRetries: number;

  constructor(private readonly deps: RecorderDeps) {
    this.maxConflictRetries = deps.maxConflictRetries ?? 12;
  }

  /**
   * `known`: the run as this caller last saw it, saving a read; if it is stale, the conditional write fails and
   * the events are applied again to the run the refusal carries, as after a first conflict.
   */
  async record(runId: string, events: RunEvent[], known?: Run): Promise<Recorded> {
    let cached = known?.id === runId ? known : undefined;
    for (let attempt = 1; ; attempt++) {
      const stored = cached ?? (await this.deps.runs.getRun(runId));
      cached = undefined;
      if (!stored) throw new NotFoundError(`no run ${runId}`);
      const now = this.deps.clock.now();
      let run = stored;
      const effects = new Map<string, Effect>();
      const ignored: Array<Ignored | undefined> = [];
      for (const event of events) {
        const result = transition(run, await this.withGroupFacts(run, event), now);
        run = result.run;
        for (const effect of result.effects) effects.set(effect.key, effect);
        ignored.push(result.ignored);
      }
      if (run === stored) return { run, effects: [...effects.values()], ignored };
      try {
        return { run: await this.deps.runs.saveRun(run), effects: [...effects.values()], ignored };
      } catch (error) {
        if (!(error instanceof VersionConflictError) || attempt > this.maxConflictRetries) throw error;
        // The refusal carries the run as the winning write left it: the first retry re-applies on that at once,
        // with no read. Losing again means many writers at once: later retries spread out and read afresh (what a
        // refusal carried is stale after a wait).
        if (attempt === 1) cached = (error as VersionConflictError<Run>).current;
        else await jitteredPause(attempt);
      }
    }
  }

  /**
   * Events that may start a run learn which older runs of its concurrency group are still active. A reconcile
   * starts a run that never started, so a lost "run.created" message only delays it.
   */
  private async withGroupFacts(run: Run, event: RunEvent): Promise<RunEvent> {
    const startable =
      event.type === "run.created" || event.type === "reconcile" || event.type === "rerun.requested";
    const waiting = run.status === "pending" && !run.startedAt;
    if (!startable || (event.type !== "rerun.requested" && !waiting)) return event;
    if (run.concurrencyGroup === undefined) return { ...event, groupAhead: [] };
    const active = await this.deps.runs.activeRuns(run.concurrencyGroup);
    const ahead = active
      .filter(
        (other) => other.id !== run.id && `${other.createdAt}#${other.id}` < `${run.createdAt}#${run.id}`,
      )
      .map((other) => other.id);
    return { ...event, groupAhead: ahead };
  }
}

export interface RunServiceDeps {
  recorder: RunRecorder;
  runs: RunStore;
  queue: WorkQueue;
  runner: TaskRunner;
  tokens: TaskTokens;
  outbox: OutboxDelivery;
  /** Where jobs call back: HOOKFLOW_PUBLIC_URL. */
  publicUrl: string;
  log: Logger;
}

export interface Applied {
  run: Run;
  ignored: Array<Ignored | undefined>;
  /** Effects that failed in a way that may pass later; the run still owes them (a reconcile retries). */
  retryLater: Error[];
}

type Outcome = { followUps: RunEvent[]; retryLater: Error[] };
const FOLLOW_UP_ROUNDS = 10;

/** Records events, then carries out what the run owes and folds the results back in (the scheduler's part). */
export class RunService {
  constructor(private readonly deps: RunServiceDeps) {}

  async apply(runId: string, events: RunEvent[], known?: Run): Promise<Applied> {
    let pending = events;
    let result: Applied | undefined;
    let latest = known;
    for (let round = 0; pending.length > 0 && round < FOLLOW_UP_ROUNDS; round++) {
      const recorded = await this.deps.recorder.record(runId, pending, latest);
      latest = recorded.run;
      const outcome = await this.carryOut(recorded.run, recorded.effects);
      result = {
        run: recorded.run,
        ignored: result?.ignored ?? recorded.ignored,
        retryLater: [...(result?.retryLater ?? []), ...outcome.retryLater],
      };
      pending = outcome.followUps;
    }
    return result as Applied;
  }

  private async carryOut(run: Run, effects: Effect[]): Promise<Outcome> {
    const followUps: RunEvent[] = [];
    const delivered: Array<{ key: string; target?: string; error?: string }> = [];
    const retryLater: Error[] = [];
    await Promise.all(
      effects.map(async (effect) => {
        try {
          if (effect.type === "submitTask") {
            await this.submit(effect);
            followUps.push({
              type: "task.submitted",
              task: effect.launch.task,
              attempt: effect.launch.attempt,
            });
            return;
          }
          const results = await this.deliverOutboxEffect(run, effect);
          if (results !== "deferred") delivered.push(...results);
        } catch (error) {
          if (!(error instanceof PermanentError)) {
            this.deps.log.warn("effect will be retried", {
              runId: run.id,
              key: effect.key,
              error: String(error),
            });
            retryLater.push(error as Error);
            if (effect.type === "submitTask") {
              const { task, attempt } = effect.launch;
              followUps.push({ type: "task.submitFailed", task, attempt, message: errorMessage(error) });
            }
          } else if (effect.type === "submitTask") {
            const { task, attempt } = effect.launch;
            followUps.push({
              type: "task.failed",
              task,
              attempt,
              reason: "SubmitRejected",
              message: error.message,
            });
          } else delivered.push({ key: effect.key, target: effect.type, error: error.message });
        }
      }),
    );
    if (delivered.length > 0) followUps.push({ type: "outbox.delivered", results: delivered });
    return { followUps, retryLater };
  }

  private async submit(effect: SubmitEffect): Promise<void> {
    const launch: TaskLaunch = effect.launch;
    const taskId = callbackTaskId(launch.runId, launch.task, launch.attempt);
    await this.deps.runner.submit({
      ...launch,
      env: { ...launch.env, HOOKFLOW_CALLBACK_URL: `${this.deps.publicUrl}/callbacks/tasks/${taskId}` },
      secretEnv: { ...launch.secretEnv, HOOKFLOW_TASK_TOKEN: this.deps.tokens.tokenFor(launch.jobName) },
    });
  }

  private async deliverOutboxEffect(run: Run, effect: OutboxEffect) {
    switch (effect.type) {
      case "cancelTask":
        await this.deps.runner.cancel(effect);
        return [{ key: effect.key }];
      case "notify":
      case "commitStatus":
        return this.deps.outbox.deliver(run, effect);
      case "cancelRun": {
        const target = await this.apply(effect.target, [{ type: "cancel.requested", byRun: run.id }]).catch(
          (error) => {
            if (error instanceof NotFoundError) return undefined; // nothing left to cancel
            throw error;
          },
        );
        this.deps.log.info("canceled older run of the group", {
          runId: run.id,
          target: effect.target,
          status: target?.run.status,
        });
        return [{ key: effect.key }];
      }
      case "wakeGroup": {
        const waiting = (await this.deps.runs.activeRuns(effect.group)).filter((r) => r.status === "pending");
        await this.deps.queue.send(
          waiting.map((r) => ({
            runId: r.id,
            event: { type: "reconcile" },
            dedupKey: `${effect.key}:${r.id}`,
          })),
        );
        return [{ key: effect.key }];
      }
    }
  }
}

/** Exponential backoff with full jitter, so racing writers spread out instead of colliding again. */
function jitteredPause(attempt: number): Promise<void> {
  const ceiling = Math.min(20 * 2 ** attempt, 1000);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
