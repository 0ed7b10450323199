import { DEFAULT_MAX_RUNNING_TASKS, isActiveTask, type Run, type TaskState } from "../model/index.js";
import type {
  Clock,
  Logger,
  PipelineSlots,
  RunStore,
  SlotHolder,
  SlotWaiter,
  TaskSlots,
  WorkQueue,
} from "../ports.js";

export interface TaskSlotDeps {
  slots: TaskSlots;
  runs: Pick<RunStore, "getRun" | "activeRuns">;
  queue: WorkQueue;
  clock: Clock;
  log: Logger;
}

/** The repair's hand-off of free room races give-backs; after this many lost races, its next tick tries again. */
const HAND_OFF_TRIES = 3;

const limitOf = (run: Run) => run.definition.maxRunningTasks ?? DEFAULT_MAX_RUNNING_TASKS;
const waiterOf = (run: Run, ref: { task: string; attempt: number }): SlotWaiter => ({
  runId: run.id,
  task: ref.task,
  attempt: ref.attempt,
  since: run.createdAt,
});

/**
 * A pipeline's `maxRunningTasks`, counted across all its runs. The engine decides what a run may queue (its own
 * tasks, up to the same number); this service counts what is submitted: the scheduler takes a slot for an
 * attempt before asking the runner, and the attempt's `releaseSlot` effect (owed in the run's outbox from the
 * moment it ends, so a crash only delays it) gives it back. An attempt that finds no room is recorded as
 * waiting, and a slot given back while attempts wait moves to one of the oldest, whose run is woken at once to
 * submit it (not at the reconciler's next tick). The reconciler's `repair` gives back what a lost race left held
 * (an attempt that ended while its slot was being taken) and hands free room to waiters a lost race or a lost
 * wake-up left waiting.
 */
export class TaskSlotService {
  constructor(private readonly deps: TaskSlotDeps) {}

  /**
   * Takes a slot for the attempt about to be submitted; when none is free, the attempt waits for one. Whether its
   * run recorded it waiting tells the slots whether it has a waiter to remove (a hint: wrong, it costs a request).
   */
  async take(
    run: Run,
    ref: { task: string; attempt: number },
  ): Promise<{ taken: true } | { taken: false; limit: number }> {
    const limit = limitOf(run);
    const took = await this.deps.slots.take(run.pipeline, waiterOf(run, ref), limit, hasWaited(run, ref));
    return took.taken ? took : { taken: false, limit };
  }

  /**
   * Takes the slots of a decision's attempts (a stage's tasks submitted together) in one step when it can: the
   * attempts it took are returned; the others are taken one by one, with `take`, when submitted.
   */
  async takeAll(run: Run, refs: Array<{ task: string; attempt: number }>): Promise<Set<string>> {
    const fresh = refs.filter((ref) => !hasWaited(run, ref));
    if (fresh.length < 2) return new Set();
    const took = await this.deps.slots.takeAll(
      run.pipeline,
      fresh.map((ref) => waiterOf(run, ref)),
      limitOf(run),
    );
    return new Set(took.map(attemptKey));
  }

  /**
   * Gives back the slots of attempts that ended together (folded in one batch): in one step when nobody waits,
   * otherwise one by one. Once, however often it is asked.
   */
  async releaseAll(run: Run, refs: Array<{ task: string; attempt: number }>): Promise<void> {
    const together = new Set(
      refs.length > 1
        ? (
            await this.deps.slots.releaseAll(
              run.pipeline,
              refs.map((r) => waiterOf(run, r)),
            )
          ).map(attemptKey)
        : [],
    );
    const handed: SlotHolder[] = [];
    for (const ref of refs.filter((r) => !together.has(attemptKey(r)))) {
      const { handedTo } = await this.deps.slots.release(run.pipeline, waiterOf(run, ref), limitOf(run));
      if (handedTo) handed.push(handedTo);
    }
    // One message per run woken, sent together.
    await this.wake(handed, refs.map((ref) => `${run.id}:${ref.task}:${ref.attempt}`).join(","));
  }

  /** Gives the ended attempt's slot back (once, however often it is asked); wakes the waiter it moved to, if any. */
  async release(run: Run, ref: { task: string; attempt: number }): Promise<void> {
    await this.releaseAll(run, [ref]);
  }

  /**
   * The reconciler's tick: the slots of every pipeline with runs in flight against those runs. A slot held by
   * no queued or running attempt of them is suspected, and given back if still so at the next tick (a run just
   * created may not be in the active index yet: an index is eventually consistent); a waiter that no longer
   * waits leaves the waiters; then waiters are handed the free room and woken. Reads the runs in flight, and
   * each run of a pipeline that holds or waits.
   */
  async repair(): Promise<{ released: number; woken: number }> {
    let released = 0;
    let woken = 0;
    const minute = this.deps.clock.now().slice(0, 16);
    // A slot matters while a run of its pipeline is in flight: those pipelines are looked at (and any that the
    // index still lists from before counters left it); a leak in a quiet pipeline is repaired once a run comes.
    const inFlight = new Map<string, string[]>();
    for (const active of await this.deps.runs.activeRuns())
      inFlight.set(active.pipeline, [...(inFlight.get(active.pipeline) ?? []), active.id]);
    for (const slots of await this.deps.slots.list(inFlight.keys())) {
      if (slots.holders.length === 0 && slots.waiting.length === 0 && slots.suspects.length === 0) continue;
      const runs = new Map<string, Run | undefined>();
      for (const id of new Set([
        ...(inFlight.get(slots.pipeline) ?? []),
        ...slots.waiting.map((w) => w.runId),
      ]))
        runs.set(id, await this.deps.runs.getRun(id));
      const known = [...runs.values()].filter((r): r is Run => r !== undefined);
      const newest = known.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      const limit = newest ? limitOf(newest) : DEFAULT_MAX_RUNNING_TASKS;
      const holding = new Set(
        known.flatMap((run) => activeAttempts(run).map((ref) => this.deps.slots.keyOf(ref))),
      );
      const unexplained = slots.holders.filter((key) => !holding.has(key));
      const suspected = new Set(slots.suspects);
      let changed = false;
      for (const key of unexplained.filter((k) => suspected.has(k))) {
        changed = true;
        const { handedTo } = await this.deps.slots.release(slots.pipeline, key, limit);
        if (handedTo) woken += await this.wake([handedTo], `repair:${minute}`);
        released++;
      }
      const suspects = unexplained.filter((k) => !suspected.has(k));
      if (suspects.length !== slots.suspects.length || suspects.some((k) => !suspected.has(k)))
        await this.deps.slots.suspect(slots.pipeline, suspects);
      // Only the waiting entry goes: the attempt may hold a slot by now (taken since the list was read).
      const gone = slots.waiting.filter((waiter) => {
        const run = runs.get(waiter.runId);
        const task = run && attemptOf(run, waiter);
        return !task || task.submittedAt !== undefined;
      });
      for (const waiter of gone) await this.deps.slots.unwait(slots.pipeline, [waiter]);
      const current = changed || gone.length > 0 ? await this.deps.slots.read(slots.pipeline) : slots;
      if (newest && current) woken += await this.passOn(current, limit, `repair:${minute}`);
    }
    if (released > 0) this.deps.log.warn("task slots given back by the repair", { released });
    return { released, woken };
  }

  /**
   * Hands the room there is to the oldest waiting attempts, in one conditional write (so no two callers hand out
   * the same room or waiter), then asks their runs to look again: each submits under the slot it now holds
   * (taking it again is a no-op). A run whose wake-up is lost submits at the reconciler's next look; one whose
   * attempt ends meanwhile gives the slot back with that end. Returns how many runs were woken.
   */
  private async passOn(slots: PipelineSlots, limit: number, cause: string): Promise<number> {
    let current = slots;
    for (let i = 0; i < HAND_OFF_TRIES; i++) {
      const room = limit - current.holders.length;
      const picked = current.waiting.slice(0, Math.max(0, room));
      if (picked.length === 0) return 0;
      const handed = await this.deps.slots.handOff(current.pipeline, picked, limit);
      if (handed.ok) return this.wake(picked, cause);
      if (!handed.current) return 0;
      current = handed.current;
    }
    return 0;
  }

  /** Asks the runs of attempts just handed a slot to look again; returns how many runs. */
  private async wake(handed: SlotHolder[], cause: string): Promise<number> {
    const runIds = [...new Set(handed.map((w) => w.runId))];
    if (runIds.length === 0) return 0;
    await this.deps.queue.send(
      runIds.map((runId) => ({
        runId,
        event: { type: "reconcile" as const },
        observe: false,
        dedupKey: `room:${cause}:${runId}`,
      })),
    );
    return runIds.length;
  }
}

/** An attempt of a run, as `takeAll` names those it took. */
export const attemptKey = (ref: { task: string; attempt: number }) => `${ref.task}#${ref.attempt}`;

/** Whether the run recorded the attempt waiting for room. */
function hasWaited(run: Run, ref: { task: string; attempt: number }): boolean {
  return run.stages.some((s) =>
    s.tasks.some((t) => t.name === ref.task && t.attempt === ref.attempt && t.reason === "WaitingForRoom"),
  );
}

/** The run's attempts still queued or running: those that may hold a slot. */
function activeAttempts(run: Run): SlotHolder[] {
  return run.stages.flatMap((stage) =>
    stage.tasks
      .filter((t) => isActiveTask(t.status))
      .map((t) => ({ runId: run.id, task: t.name, attempt: t.attempt })),
  );
}

/** The run's task whose current attempt is `ref`'s and still queued or running, if any. */
function attemptOf(run: Run, ref: SlotHolder): TaskState | undefined {
  for (const stage of run.stages)
    for (const task of stage.tasks)
      if (task.name === ref.task && task.attempt === ref.attempt && isActiveTask(task.status)) return task;
  return undefined;
}
