import { foldReports, type Ignored, type TaskReportEvent, transition } from "../engine/index.js";
import {
  ConflictError,
  ForbiddenError,
  type HookflowError,
  NotFoundError,
  VersionConflictError,
} from "../errors.js";
import type { Actor, Effect, OutboxEffect, Run, RunEvent } from "../model/index.js";
import type { Clock, Logger, Metrics, RunStore, WorkMessage, WorkQueue } from "../ports.js";
import { runChangeMetrics } from "./run-metrics.js";

/** A command on a run is a fact for the engine to fold in: a report, a decision, a request, an observation. */
export type RunCommand = RunEvent;

/** Effects carried out from their own messages, off the run's own queue group (see `deliveryMessage`). */
export type NotificationEffect = Extract<OutboxEffect, { type: "notify" | "commitStatus" }>;
/** Effects the scheduler carries out in the run's own message group. */
export type RunEffect = Exclude<Effect, NotificationEffect>;

export function isNotificationEffect(effect: Effect): effect is NotificationEffect {
  return effect.type === "notify" || effect.type === "commitStatus";
}

export interface RecorderDeps {
  runs: RunStore;
  clock: Clock;
  /** What each saved change measures (runs started and finished, task durations, latencies). */
  metrics?: Metrics;
  /** Conflicting writers: reload and re-apply at most this many times. */
  maxConflictRetries?: number;
}

export interface Recorded {
  run: Run;
  /** Per event given, why it did not apply (undefined when it did). */
  ignored: Array<Ignored | undefined>;
  /** What the run now owes. */
  effects: Effect[];
}

/** A task's report as recorded beside its run (`RunRecorder.report`). */
export interface ReportRecorded extends Recorded {
  /** When it was received: it names its owed message. */
  at: string;
  /** Whether the scheduler must fold it in now (`needsFold`); otherwise the run's next fold takes it along. */
  folds: boolean;
}

/**
 * Whether a report needs its own owed message, so that the scheduler folds it in now. An attempt's end always
 * does (what follows it: its log, its slot, the next tasks). A start or outputs while it runs does only when
 * folding it owes something (a notification, a cancel for outputs over the limit) or changes the run's own
 * status: otherwise folding it would only save the head, and every reader folds the run's reports anyway (the
 * API, the wake-up's read that stops follow-ups once the relay watches the attempt, the attempt's end's fold).
 * That is a fold, three queue requests and a scheduler invocation less for each relay's `running` report.
 */
function needsFold(event: TaskReportEvent, run: Run, tried: { run: Run; effects: Effect[] }): boolean {
  if (event.type === "task.succeeded" || event.type === "task.failed") return true;
  return tried.effects.length > 0 || tried.run.status !== run.status;
}

/**
 * Loads a run, applies events through the engine, saves on its version, and when another writer won, reloads
 * and applies again. RunCommands is its one user in the product; tests use it to set a run up.
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
  async record(
    runId: string,
    events: RunEvent[],
    known?: Run,
    beforeSave?: HandleOptions["beforeSave"],
  ): Promise<Recorded> {
    let cached = known?.id === runId ? known : undefined;
    for (let attempt = 1; ; attempt++) {
      const loaded = cached
        ? { run: cached, saved: cached, unsaved: false }
        : await this.deps.runs.loadRun(runId);
      cached = undefined;
      if (!loaded) throw new NotFoundError(`no run ${runId}`);
      const stored = loaded.run;
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
      // Reports folded in on loading are kept by saving, even when these events change nothing more; but a
      // command refused outright writes nothing (the report's own owed message saves the fold).
      const refused = ignored.every((i) => i !== undefined);
      if (run === stored && (!loaded.unsaved || refused))
        return { run, effects: [...effects.values()], ignored };
      beforeSave?.(run, [...effects.values()]);
      try {
        const saved = await this.deps.runs.saveRun(run);
        // Against the run as last saved: what the reports folded in on loading changed counts too.
        this.deps.metrics?.add(...runChangeMetrics(loaded.saved, saved));
        return { run: saved, effects: [...effects.values()], ignored };
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
   * A task's report about its own attempt: checked by the engine against the run as it is now (a report it
   * would refuse is refused, writing nothing), then recorded as an item of its own beside the run, never in it
   * (docs/decisions.md, 1). Parallel tasks thus never contend; the scheduler folds the report in when the owed
   * message comes. `at` is when the report was received, which names its owed message; `folds` says whether
   * the report needs that message (`needsFold`).
   */
  async report(runId: string, event: TaskReportEvent, known?: Run): Promise<ReportRecorded> {
    const run = known?.id === runId ? known : await this.deps.runs.getRun(runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    const at = this.deps.clock.now();
    const tried = transition(run, event, at);
    const folds = needsFold(event, run, tried);
    if (tried.ignored) return { run, effects: [], ignored: [tried.ignored], at, folds };
    const stored = await this.deps.runs.addReport(runId, { event, at });
    if (stored.recorded) return { run: tried.run, effects: [], ignored: [undefined], at, folds };
    // A report of this kind came first (the same one again, or another ending): the engine says what this one
    // is after it, Duplicate for the same.
    const after = foldReports(run, [stored.existing]);
    const again = transition(after, event, at);
    const refusal = again.ignored ?? {
      reason: "TaskTerminal" as const,
      message: `task ${event.task} attempt ${event.attempt} already reported how it ended`,
    };
    return { run: after, effects: [], ignored: [refusal], at: stored.existing.at, folds };
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

export type Handled =
  | { outcome: "accepted"; run: Run; effects: Effect[]; ignored: Array<Ignored | undefined> }
  /** The engine refused the (first refused) command, saying why; the run is as stored. */
  | {
      outcome: "refused";
      run: Run;
      effects: Effect[];
      ignored: Array<Ignored | undefined>;
      refusal: Ignored;
    };

export interface HandleOptions {
  /** The run as the caller last saw it (saves a read when still current). */
  known?: Run;
  /**
   * The caller carries out the run's own effects itself (the scheduler does); only notifications are queued.
   * Otherwise one message tells the scheduler the run owes something.
   */
  inline?: boolean;
  /** The logger of the message or effect the command comes from (its fields on the command's line). */
  log?: Logger;
  /**
   * Told the run and what it owes just before each save (again after a conflict, re-applied), so that work
   * needing only the decision runs beside the write: the scheduler takes its submissions' slots there. What it
   * starts must be safe when the save then fails: the message's retry or the reconciler sees to what it left.
   */
  beforeSave?: (run: Run, effects: Effect[]) => void;
}

export interface RunCommandsDeps {
  recorder: RunRecorder;
  queue: WorkQueue;
  log: Logger;
}

/**
 * The one way a command reaches a run, whoever sends it (a task's callback, the API, a run cancelling an older
 * one, the scheduler's observations): record it under optimistic concurrency, queue what the run now owes, and
 * answer accepted or refused with the engine's reason. Notifications and commit statuses are queued as messages
 * of their own (`deliveryMessage`), so no outside service can hold up the run's scheduling.
 */
export class RunCommands {
  constructor(private readonly deps: RunCommandsDeps) {}

  async handle(
    runId: string,
    command: RunCommand | RunCommand[],
    actor: Actor,
    options: HandleOptions = {},
  ): Promise<Handled> {
    const commands = Array.isArray(command) ? command : [command];
    const [only] = commands;
    const recorded =
      (actor.kind === "task" || actor.kind === "relay") && commands.length === 1 && only && isTaskReport(only)
        ? await this.reported(runId, only, options.known)
        : await this.deps.recorder.record(runId, commands, options.known, options.beforeSave);
    if (!("at" in recorded))
      await this.deps.queue.send(owedMessages(recorded.run, recorded.effects, options.inline ?? false));
    const refusal = recorded.ignored.find((i) => i !== undefined);
    if (actor.kind !== "scheduler")
      (options.log ?? this.deps.log).info("run command", {
        runId,
        ...attemptOf(commands),
        commands: commands.map((c) => c.type),
        actor,
        outcome: refusal ? `refused: ${refusal.reason}` : "accepted",
      });
    return refusal ? { outcome: "refused", ...recorded, refusal } : { outcome: "accepted", ...recorded };
  }

  /**
   * A task's report about itself (its callback's, or the relay's about its Job), kept beside the run: one owed
   * message per report that needs folding now tells the scheduler to fold it in.
   */
  private async reported(runId: string, event: TaskReportEvent, known?: Run) {
    const recorded = await this.deps.recorder.report(runId, event, known);
    const refusal = recorded.ignored[0];
    if (recorded.folds && (refusal === undefined || refusal.reason === "Duplicate"))
      await this.deps.queue.send([
        {
          runId,
          event: { type: "reconcile" },
          observe: false,
          dedupKey: `report:${runId}:${event.task}:${event.attempt}:${event.type}:${recorded.at}`,
        },
      ]);
    return recorded;
  }

  /** Like `handle`, but a refusal is thrown as the domain error for its reason; the run as stored otherwise. */
  async require(runId: string, command: RunCommand, actor: Actor): Promise<Run> {
    const handled = await this.handle(runId, command, actor);
    if (handled.outcome === "refused") throw refusalError(handled.refusal);
    return handled.run;
  }
}

/**
 * The task and attempt a lone command names (a task's report, a cancel or an approval of one task), for its line:
 * every line about a task attempt names them, whoever sent the command.
 */
function attemptOf(commands: RunCommand[]): { task?: string; attempt?: number } {
  const [only, ...more] = commands;
  if (!only || more.length > 0) return {};
  return {
    ...("task" in only && typeof only.task === "string" && { task: only.task }),
    ...("attempt" in only && typeof only.attempt === "number" && { attempt: only.attempt }),
  };
}

/**
 * A refusal as the error the callers' one error handler renders: a task the run does not have is not found, an
 * approver who is not one is forbidden, and every other reason conflicts with the run's state.
 */
export function refusalError(refusal: Ignored, details: Record<string, unknown> = {}): HookflowError {
  switch (refusal.reason) {
    case "UnknownTask":
      return new NotFoundError(refusal.message);
    case "NotAnApprover":
    case "SelfApproval":
      return new ForbiddenError(refusal.message);
    default:
      return new ConflictError(refusal.message, { reason: refusal.reason, ...details });
  }
}

function isTaskReport(event: RunEvent): event is TaskReportEvent {
  return (
    event.type === "task.started" ||
    event.type === "task.outputs" ||
    event.type === "task.succeeded" ||
    event.type === "task.failed"
  );
}

/** What a recorded change needs queued: each notification on its own, and (unless inline) one owed message. */
function owedMessages(run: Run, effects: Effect[], inline: boolean) {
  const notifications = effects.filter(isNotificationEffect).map((e) => deliveryMessage(run.id, e.key));
  const owesMore = !inline && effects.some((e) => !isNotificationEffect(e));
  return owesMore ? [owedMessage(run.id, run.version), ...notifications] : notifications;
}

/** Tells the scheduler a run owes effects (after a callback or an API call recorded a fact). */
export function owedMessage(runId: string, version: number): WorkMessage & { dedupKey: string } {
  return { runId, event: { type: "reconcile" }, observe: false, dedupKey: `owed:${runId}:${version}` };
}

/** Carry out the notification or commit status `key` of a run: a message of its own, deduplicated by the key. */
export function deliveryMessage(runId: string, key: string): WorkMessage & { dedupKey: string } {
  return { runId, deliver: key, dedupKey: `deliver:${key}` };
}

/** Exponential backoff with full jitter, so racing writers spread out instead of colliding again. */
function jitteredPause(attempt: number): Promise<void> {
  const ceiling = Math.min(20 * 2 ** attempt, 1000);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
