import { callbackTaskId, type Ignored } from "../engine/index.js";
import { NotFoundError, PermanentError, RetryableError } from "../errors.js";
import { withFields } from "../log-context.js";
import { type Actor, isActiveTask, type Run, type RunEvent, SCHEDULER } from "../model/index.js";
import type { DeliveryMessage, Logger, RunStore, TaskRunner, WorkQueue } from "../ports.js";
import {
  isNotificationEffect,
  type NotificationEffect,
  type RunCommands,
  type RunEffect,
} from "./commands.js";
import type { LogArchiving } from "./log-archiving.js";
import { attemptKey, type TaskSlotService } from "./task-slots.js";
import type { TaskTokens } from "./tokens.js";

/**
 * Delivers notify and commitStatus effects; "deferred" leaves the effect owed (a rate limit is in the way).
 * `log`: the delivery message's logger, for what a target's failure says.
 */
export interface OutboxDelivery {
  deliver(
    run: Run,
    effect: NotificationEffect,
    log?: Logger,
  ): Promise<Array<{ key: string; target?: string; error?: string }> | "deferred">;
}

export interface RunServiceDeps {
  commands: RunCommands;
  runs: RunStore;
  queue: WorkQueue;
  runner: TaskRunner;
  tokens: TaskTokens;
  outbox: OutboxDelivery;
  archiving: LogArchiving;
  /** The pipeline's running-task slots (`maxRunningTasks` across its runs): taken before a submit. */
  slots: TaskSlotService;
  /** The base of the URL each Job reports to (core/config.ts callbackBaseUrl). */
  callbackBaseUrl: string;
  log: Logger;
}

export interface Applied {
  run: Run;
  ignored: Array<Ignored | undefined>;
  /** Effects that failed in a way that may pass later; the run still owes them (a reconcile retries). */
  retryLater: Error[];
}

/** What carrying out one effect adds: facts to fold back into the run, and the effect's key when it is done. */
interface Outcome {
  followUps: RunEvent[];
  done?: { key: string; target?: string; error?: string };
}

/** Whether an attempt got its slot, or waits for room under `limit`. */
type SlotTaken = { taken: true } | { taken: false; limit: number };
/**
 * The slots of a decision's submissions being taken, by attempt (`attemptKey`): started beside the save that
 * records the attempts queued, or when the effects are carried out if nothing was saved.
 */
type SlotClaims = Map<string, { task: string; attempt: number; slot: Promise<SlotTaken> }>;

type Handler<T extends RunEffect["type"]> = (
  run: Run,
  effect: Extract<RunEffect, { type: T }>,
  /** Every effect carried out with this one. */
  batch: readonly RunEffect[],
  /** The slots of this batch's submissions, being taken (`claimSlots`). */
  claims: SlotClaims,
  /** The message's logger with the effect's task and attempt (`effectFields`). */
  log: Logger,
) => Promise<Outcome>;

const FOLLOW_UP_ROUNDS = 10;

/**
 * The scheduler's part of a run command: after RunCommands has recorded it, carry out what the run owes in its
 * own message group (submit and cancel attempts, cancel older runs of its group, wake the group's waiting runs)
 * and fold the results back in, until nothing follows. Notifications are not among them: RunCommands queues
 * each as a message of its own, carried out by `deliver`.
 */
export class RunService {
  /** One handler per effect type but `releaseSlot`: a batch's slots are given back together (see carryOut). */
  private readonly handlers: { [T in Exclude<RunEffect["type"], "releaseSlot">]: Handler<T> };

  constructor(private readonly deps: RunServiceDeps) {
    this.handlers = {
      submitTask: (run, effect, _batch, claims) => this.submitTask(run, effect, claims),
      cancelTask: async (_run, effect) => {
        await this.deps.runner.cancel(effect);
        return { followUps: [], done: { key: effect.key } };
      },
      archiveLog: (run, effect, batch) => this.archiveLog(run, effect, batch),
      cancelRun: (run, effect, _batch, _claims, log) => this.cancelRun(run, effect, log),
      wakeGroup: (_run, effect) => this.wakeGroup(effect),
    };
  }

  /**
   * `log`: the message's logger (its id, its run), for every line logged while applying and carrying out.
   * `beside`: told the run as each save is about to write it (`HandleOptions.beforeSave`), for requests that may
   * go side by side with that save because they are harmless should it fail or land after them.
   */
  async apply(
    runId: string,
    events: RunEvent[],
    known?: Run,
    log: Logger = this.deps.log,
    options: { actor?: Actor; beside?: (run: Run) => void } = {},
  ): Promise<Applied> {
    const { actor = SCHEDULER, beside } = options;
    let pending = events;
    let result: Applied | undefined;
    let latest = known;
    for (let round = 0; pending.length > 0 && round < FOLLOW_UP_ROUNDS; round++) {
      const claims: SlotClaims = new Map();
      const handled = await this.deps.commands
        .handle(runId, pending, actor, {
          known: latest,
          inline: true,
          log,
          // The slots are taken beside the save that records their attempts queued, not after it: a take counts
          // once per attempt, so a save that fails leaves a slot that its message's retry takes again as a no-op
          // (or the reconciler's repair gives back), and a Job is still created only once both are done.
          beforeSave: (run, effects) => {
            this.claimSlots(run, effects.filter(isRunEffect), claims, log);
            beside?.(run);
          },
        })
        .catch(async (error: unknown) => {
          // The message fails with its takes done: nothing of it is still in flight once it has failed.
          await Promise.allSettled([...claims.values()].map((c) => c.slot));
          throw error;
        });
      latest = handled.run;
      await this.giveBackUnqueued(handled.run, claims, log);
      const outcome = await this.carryOut(handled.run, handled.effects.filter(isRunEffect), claims, log);
      result = {
        run: handled.run,
        ignored: result?.ignored ?? handled.ignored,
        retryLater: [...(result?.retryLater ?? []), ...outcome.retryLater],
      };
      pending = outcome.followUps;
    }
    return result as Applied;
  }

  /**
   * Carries out one notification or commit status the run owes, from its own message: the run's scheduling
   * never waits for an outside service. Delivered already (or the run gone): nothing to do. A rate limit in the
   * way: the message comes back later.
   */
  async deliver(message: DeliveryMessage, log: Logger = this.deps.log): Promise<void> {
    const loaded = await this.deps.runs.loadRun(message.runId);
    const run = loaded?.run;
    const effect = run?.outbox.find((e) => e.key === message.deliver);
    if (!loaded || !run || !effect || !isNotificationEffect(effect)) return;
    const results = await this.deps.outbox.deliver(run, effect, log);
    if (results === "deferred")
      throw new RetryableError(`${effect.key}: deferred by a rate limit, sent when the message comes back`);
    // With reports not yet saved, the recorder loads the run itself, to save them (and count them) too.
    await this.deps.commands.handle(run.id, { type: "outbox.delivered", results }, SCHEDULER, {
      ...(!loaded.unsaved && { known: run }),
      inline: true,
      log,
    });
  }

  /**
   * Effects on different Jobs side by side; those on one Job in order: a stop, an archive, then a cancel, then its
   * slot given back, and none after one that failed: a Job is never deleted before its log is kept, never left
   * running meanwhile, and its slot never handed on while it may still run. The slots of a batch's submissions
   * are taken together first (when the save did not start them already: `claims`), and those of its ended Jobs
   * given back together last (one write each, most often).
   */
  private async carryOut(run: Run, effects: RunEffect[], claims: SlotClaims, log: Logger) {
    const followUps: RunEvent[] = [];
    const delivered: Array<{ key: string; target?: string; error?: string }> = [];
    const retryLater: Error[] = [];
    this.claimSlots(run, effects, claims, log);
    const releases: Array<Extract<RunEffect, { type: "releaseSlot" }>> = [];
    const byJob = new Map<string, RunEffect[]>();
    for (const effect of [...effects].sort((a, b) => order(a) - order(b))) {
      const job = "jobName" in effect ? effect.jobName : effect.key;
      byJob.set(job, [...(byJob.get(job) ?? []), effect]);
    }
    await Promise.all(
      [...byJob.values()].map(async (chain) => {
        await this.stopBeforeCopy(run, chain, log);
        for (const effect of chain) {
          if (effect.type === "releaseSlot") {
            releases.push(effect);
            continue;
          }
          try {
            // The map's type pairs each handler with its effect type; TypeScript cannot follow that through a union.
            const handler = this.handlers[effect.type] as Handler<typeof effect.type>;
            const outcome = await handler(
              run,
              effect as never,
              effects,
              claims,
              withFields(log, effectFields(effect)),
            );
            followUps.push(...outcome.followUps);
            if (outcome.done) delivered.push(outcome.done);
          } catch (error) {
            if (effect.type === "submitTask") {
              followUps.push(submitFailure(effect.launch, error));
              if (error instanceof PermanentError) continue;
            } else if (error instanceof PermanentError) {
              delivered.push({ key: effect.key, target: effect.type, error: error.message });
              continue;
            }
            log.warn("effect will be retried", {
              runId: run.id,
              ...effectFields(effect),
              key: effect.key,
              error: String(error),
            });
            retryLater.push(error as Error);
            return;
          }
        }
      }),
    );
    if (releases.length > 0)
      try {
        await this.deps.slots.releaseAll(run, releases);
        delivered.push(...releases.map((e) => ({ key: e.key })));
      } catch (error) {
        log.warn("slots will be given back later", { runId: run.id, error: String(error) });
        retryLater.push(error as Error);
      }
    if (delivered.length > 0) followUps.push({ type: "outbox.delivered", results: delivered });
    return { followUps, retryLater };
  }

  /**
   * Starts taking the slots of the effects' submissions not yet in `claims`: in one step when it can; failing
   * that, or for the attempts that step did not take, each alone. A take that fails is seen by its submission,
   * which awaits it; one nobody awaits (its save failed) left what a retried take or the repair sees to.
   */
  private claimSlots(run: Run, effects: readonly RunEffect[], claims: SlotClaims, log: Logger): void {
    const launches = effects.flatMap((e) =>
      e.type === "submitTask" && !claims.has(attemptKey(e.launch)) ? [e.launch] : [],
    );
    if (launches.length === 0) return;
    const together = this.deps.slots.takeAll(run, launches).catch((error) => {
      log.warn("slots will be taken one by one", { runId: run.id, error: String(error) });
      return new Set<string>();
    });
    for (const launch of launches) {
      const slot = together.then((taken) =>
        taken.has(attemptKey(launch)) ? ({ taken: true } as const) : this.deps.slots.take(run, launch),
      );
      slot.catch(() => {}); // handled where awaited; unawaited, its save failed (above)
      claims.set(attemptKey(launch), { task: launch.task, attempt: launch.attempt, slot });
    }
  }

  /**
   * Slots taken beside a save that lost to another writer, for attempts the run as re-applied and saved does not
   * hold queued or running (a cancel came first): given back now, not at the repair's second look. None on the
   * common path, where every claim's attempt is in the run as saved.
   */
  private async giveBackUnqueued(run: Run, claims: SlotClaims, log: Logger): Promise<void> {
    const active = new Set(
      run.stages.flatMap((s) =>
        s.tasks
          .filter((t) => isActiveTask(t.status))
          .map((t) => attemptKey({ task: t.name, attempt: t.attempt })),
      ),
    );
    const stale = [...claims].filter(([key]) => !active.has(key));
    if (stale.length === 0) return;
    for (const [key] of stale) claims.delete(key);
    const taken = await Promise.all(
      stale.map(async ([, claim]) => ((await claim.slot.catch(() => undefined))?.taken ? [claim] : [])),
    );
    const refs = taken.flat().map(({ task, attempt }) => ({ task, attempt }));
    if (refs.length > 0)
      await this.deps.slots
        .releaseAll(run, refs)
        .catch((error) =>
          log.warn("slots will be given back by the repair", { runId: run.id, error: String(error) }),
        );
  }

  /**
   * An attempt to cancel (canceled, timed out) whose log is still owed is stopped first: its processes end now and
   * what its log is read from stays, so a cancel never waits for the archive (an outage leaves a stopped Job, not
   * a running one). A stop that fails is logged: the copy and the delete still follow, and the delete stops it.
   */
  private async stopBeforeCopy(run: Run, chain: readonly RunEffect[], log: Logger): Promise<void> {
    const cancel = chain.find((e) => e.type === "cancelTask");
    if (!cancel || !chain.some((e) => e.type === "archiveLog")) return;
    try {
      await this.deps.runner.stop(cancel);
    } catch (error) {
      log.warn("could not stop an attempt before copying its log", {
        runId: run.id,
        jobName: cancel.jobName,
        error: String(error),
      });
    }
  }

  /**
   * Copies the ended attempt's log to the archive, then deletes its Job (hookflow's own clean-up; the Job's TTL
   * is only a safety net). Copied as it is when a cancel of the same Job follows in this batch.
   */
  private async archiveLog(
    run: Run,
    effect: Extract<RunEffect, { type: "archiveLog" }>,
    batch: readonly RunEffect[],
  ): Promise<Outcome> {
    const stopping = batch.some((e) => e.type === "cancelTask" && e.jobName === effect.jobName);
    const archived = await this.deps.archiving.copy(run, effect, stopping);
    // Still running (its callback came first): the copy stays owed, for a later reconcile.
    if (!archived) return { followUps: [] };
    if (!stopping) await this.deps.runner.cancel(effect);
    return { followUps: [archived] };
  }

  /** A slot of the pipeline first: without one, the attempt waits for room and nothing is submitted. */
  private async submitTask(
    run: Run,
    effect: Extract<RunEffect, { type: "submitTask" }>,
    claims: SlotClaims,
  ): Promise<Outcome> {
    const { launch } = effect;
    const slot = await (claims.get(attemptKey(launch))?.slot ?? this.deps.slots.take(run, launch));
    if (!slot.taken)
      return {
        followUps: [
          { type: "task.waitingForRoom", task: launch.task, attempt: launch.attempt, limit: slot.limit },
        ],
      };
    const taskId = callbackTaskId(launch.runId, launch.task, launch.attempt);
    await this.deps.runner.submit({
      ...launch,
      env: { ...launch.env, HOOKFLOW_CALLBACK_URL: `${this.deps.callbackBaseUrl}/callbacks/tasks/${taskId}` },
      secretEnv: { ...launch.secretEnv, HOOKFLOW_TASK_TOKEN: this.deps.tokens.tokenFor(launch) },
    });
    return { followUps: [{ type: "task.submitted", task: launch.task, attempt: launch.attempt }] };
  }

  /** A newer run of a concurrency group cancels an older one: a command on that run, in its own group. */
  private async cancelRun(
    run: Run,
    effect: Extract<RunEffect, { type: "cancelRun" }>,
    log: Logger,
  ): Promise<Outcome> {
    const target = await this.deps.commands
      .handle(
        effect.target,
        { type: "cancel.requested", byRun: run.id },
        { kind: "scheduler", forRun: run.id },
        { log },
      )
      .catch((error) => {
        if (error instanceof NotFoundError) return undefined; // nothing left to cancel
        throw error;
      });
    log.info("canceled older run of the group", {
      runId: run.id,
      target: effect.target,
      status: target?.run.status,
    });
    return { followUps: [], done: { key: effect.key } };
  }

  private async wakeGroup(effect: Extract<RunEffect, { type: "wakeGroup" }>): Promise<Outcome> {
    const waiting = (await this.deps.runs.activeRuns(effect.group)).filter((r) => r.status === "pending");
    await this.deps.queue.send(
      waiting.map((r) => ({ runId: r.id, event: { type: "reconcile" }, dedupKey: `${effect.key}:${r.id}` })),
    );
    return { followUps: [], done: { key: effect.key } };
  }
}

/**
 * Within one Job's effects: its log is copied before it is canceled, and its slot given back only after that, so
 * a new Job never starts while the one it replaces may still run.
 */
const ORDER: Partial<Record<RunEffect["type"], number>> = { archiveLog: 0, cancelTask: 1, releaseSlot: 2 };
const order = (effect: RunEffect) => ORDER[effect.type] ?? 1;

function isRunEffect(effect: RunEffect | NotificationEffect): effect is RunEffect {
  return !isNotificationEffect(effect);
}

/** A submission that may pass later is retried (and shown); one that never can fails the task. */
function submitFailure(launch: { task: string; attempt: number }, error: unknown): RunEvent {
  const { task, attempt } = launch;
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof PermanentError
    ? { type: "task.failed", task, attempt, reason: "SubmitRejected", message }
    : { type: "task.submitFailed", task, attempt, message };
}

/** The task and attempt an effect concerns, for the lines logged while it is carried out. */
function effectFields(effect: RunEffect): { task?: string; attempt?: number } {
  if (effect.type === "submitTask") return { task: effect.launch.task, attempt: effect.launch.attempt };
  if ("task" in effect && "attempt" in effect) return { task: effect.task, attempt: effect.attempt };
  return {};
}
