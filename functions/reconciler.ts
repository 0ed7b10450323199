import type { Clock, Logger, RunStore, WorkQueue } from "../core/ports.js";
import { reconcileAll } from "../core/services/scheduler.js";
import { lazyHandler, reconcilerDeps } from "../core/wiring.js";

/** Every minute: a reconcile message for every unfinished run, so nothing lost can strand a run. */
export function createReconcilerHandler(deps: {
  runs: RunStore;
  queue: WorkQueue;
  clock: Clock;
  log: Logger;
}) {
  return async (): Promise<{ reconciled: number }> => {
    const reconciled = await reconcileAll(deps);
    deps.log.info("reconcile messages sent", { runs: reconciled });
    return { reconciled };
  };
}

export const handler = lazyHandler((base) => createReconcilerHandler(reconcilerDeps(base)));
