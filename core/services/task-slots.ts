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
  runs: Pick<RunStore, "getRun">;
  queue: WorkQueue;
  clock: Clock;
  log: Logger;
}

/** Handing room out races other releases; after this many lost races the reconciler's repair hands it out. */
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
 * waiting, and each slot given back is handed to the oldest waiting attempt (as many as there is room for),
 * whose run is woken at once to submit it (not at the reconciler's next tick). The reconciler's `repair` gives back what a lost race left held (an
 * attempt that ended while its slot was being taken) and wakes waiters a lost wake-up left waiting.
 */
export class TaskSlotService {
  constructor(private readonly deps: TaskSlotDeps) {}

  /** Takes a slot for the attempt about to be submitted; when none is free, the attempt waits for one. */
  async take(
    run: Run,
    ref: { task: string; attempt: number },
  ): Promise<{ taken: true } | { taken: false; limit: number }> {
    const limit = limitOf(run);
    const took = await this.deps.slots.take(run.pipeline, waiterOf(run, ref), limit);
    return took.taken ? took : { taken: false, limit };
  }

  /** Gives the ended attempt's slot back (once, however often it is asked) and wakes the oldest waiters. */
  async release(run: Run, ref: { task: string; attempt: number }): Promise<void> {
    const after = await this.deps.slots.release(run.pipeline, waiterOf(run, ref));
    if (after) await this.passOn(after, limitOf(run), `${run.id}:${ref.task}:${ref.attempt}`);
  }

  /**
   * The reconciler's tick: every pipeline's slots against its runs. A slot held by an attempt that is no longer
   * queued or running, or a waiter that no longer waits, is given back; then waiters are woken if there is
   * room. Reads one run per run holding or waiting for a slot.
   */
  async repair(): Promise<{ released: number; woken: number }> {
    let released = 0;
    let woken = 0;
    const minute = this.deps.clock.now().slice(0, 16);
    for (const slots of await this.deps.slots.list()) {
      const runs = new Map<string, Run | undefined>();
      for (const id of new Set([...slots.holders, ...slots.waiting].map((h) => h.runId)))
        runs.set(id, await this.deps.runs.getRun(id));
      let current: PipelineSlots = slots;
      for (const held of slots.holders) {
        const run = runs.get(held.runId);
        if (run && attemptOf(run, held)) continue;
        current =
          (await this.deps.slots.release(slots.pipeline, { ...held, since: run?.createdAt ?? "" })) ??
          current;
        released++;
      }
      // Only the waiting entry goes: the attempt may hold a slot by now (taken since the list was read).
      const gone = slots.waiting.filter((waiter) => {
        const run = runs.get(waiter.runId);
        const task = run && attemptOf(run, waiter);
        return !task || task.submittedAt !== undefined;
      });
      for (const waiter of gone) await this.deps.slots.unwait(slots.pipeline, [waiter]);
      const goneKeys = new Set(gone.map(keyOf));
      current = { ...current, waiting: current.waiting.filter((w) => !goneKeys.has(keyOf(w))) };
      const newest = [...runs.values()]
        .filter((r): r is Run => r !== undefined)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      if (newest) woken += await this.passOn(current, limitOf(newest), `repair:${minute}`);
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
      if (handed.ok) {
        const runIds = [...new Set(picked.map((w) => w.runId))];
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
      if (!handed.current) return 0;
      current = handed.current;
    }
    return 0;
  }
}

const keyOf = (h: SlotHolder) => `${h.runId} ${h.task} ${h.attempt}`;

/** The run's task whose current attempt is `ref`'s and still queued or running, if any. */
function attemptOf(run: Run, ref: SlotHolder): TaskState | undefined {
  for (const stage of run.stages)
    for (const task of stage.tasks)
      if (task.name === ref.task && task.attempt === ref.attempt && isActiveTask(task.status)) return task;
  return undefined;
}
