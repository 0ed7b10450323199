import type { Run } from "../../core/model/index.js";
import { isTerminalRun } from "../../core/model/index.js";
import { reconcileAll } from "../../core/services/scheduler.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { type BatchHandler, type NotificationLane, pollOnce } from "../../infra/local/queue-poller.js";
import type { testSystem } from "./system.js";
import { waitFor } from "./wait.js";

type System = Awaited<ReturnType<typeof testSystem>>;

/**
 * Runs the scheduler the way Lambda would (the real handler on batches from the real queue) and the reconciler
 * every `reconcileEveryMs`, until `done` holds for the run (waited for with the suite's one poller).
 */
export async function driveRun(
  system: System,
  runId: string,
  options: {
    /** May ask the runner or a fake too (then async). */
    done?: (run: Run) => boolean | Promise<boolean>;
    timeoutMs?: number;
    reconcileEveryMs?: number;
    handler?: BatchHandler;
    /** Hand notification messages to this lane, as the local stack does, instead of waiting for them. */
    lane?: NotificationLane;
  } = {},
): Promise<Run> {
  const handler = options.handler ?? createSchedulerHandler(system);
  const done = options.done ?? ((run: Run) => isTerminalRun(run.status));
  const every = options.reconcileEveryMs ?? 200;
  let lastReconcile = Number.NEGATIVE_INFINITY;
  let last: Run | undefined;
  const reached = await waitFor(
    async () => {
      last = await system.stores.runs.getRun(runId);
      if (last && (await done(last))) return last;
      if (performance.now() - lastReconcile >= every) {
        await reconcileAll(
          { runs: system.stores.runs, queue: system.queue, clock: system.clock },
          every / 1000,
        );
        lastReconcile = performance.now();
      }
      await pollOnce(system.queues.queue, handler, {
        waitSeconds: 0,
        ...(options.lane && { lane: options.lane }),
      });
      return undefined;
    },
    {
      what: () => `run ${runId} to get there (now ${JSON.stringify(summary(last))})`,
      timeoutMs: options.timeoutMs ?? 30_000,
      everyMs: 10,
    },
  );
  return reached as Run;
}

export function summary(run: Run | undefined) {
  return (
    run && {
      status: run.status,
      message: run.message,
      tasks: run.stages.flatMap((s) =>
        s.tasks.map((t) => `${t.name}:${t.status}#${t.attempt}${t.message ? ` (${t.message})` : ""}`),
      ),
    }
  );
}
