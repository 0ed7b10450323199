import type { Clock, Logger, RunStore, WorkQueue } from "../core/ports.js";
import { reconcileAll } from "../core/services/scheduler.js";
import type { ScheduleService } from "../core/services/schedules.js";
import type { TaskSlotService } from "../core/services/task-slots.js";
import { lazyHandler, RECONCILER_STORES, reconcilerDeps } from "../core/wiring.js";

/**
 * Every minute: a reconcile message for every unfinished run, so nothing lost can strand a run; the pipelines'
 * task slots checked against their runs (a slot a lost race left held is given back, waiters a lost wake-up
 * left are woken); then the runs the pipelines' schedules owe for this minute (or the latest one a missed tick
 * left owed).
 */
export function createReconcilerHandler(deps: {
  runs: RunStore;
  queue: WorkQueue;
  clock: Clock;
  log: Logger;
  schedules?: Pick<ScheduleService, "tick">;
  slots?: Pick<TaskSlotService, "repair">;
}) {
  return async (): Promise<{ reconciled: number; scheduled: number }> => {
    const reconciled = await reconcileAll(deps);
    deps.log.info("reconcile messages sent", { runs: reconciled });
    // A repair that fails now is tried again at the next tick; it must not keep the schedules from firing.
    await deps.slots
      ?.repair()
      .catch((error: unknown) => deps.log.error("task slot repair failed", { error: String(error) }));
    const fired = (await deps.schedules?.tick()) ?? [];
    if (fired.length > 0) deps.log.info("scheduled runs started", { runs: fired });
    return { reconciled, scheduled: fired.length };
  };
}

export const handler = lazyHandler(RECONCILER_STORES, (base) =>
  createReconcilerHandler(reconcilerDeps(base)),
);
