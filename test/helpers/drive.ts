import type { Run } from "../../core/model/index.js";
import { isTerminalRun } from "../../core/model/index.js";
import { reconcileAll } from "../../core/services/scheduler.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { type BatchHandler, type NotificationLane, pollOnce } from "../../infra/local/queue-poller.js";
import type { testSystem } from "./system.js";

type System = Awaited<ReturnType<typeof testSystem>>;

/**
 * Runs the scheduler the way Lambda would (the real handler on batches from the real queue) and the reconciler
 * every `reconcileEveryMs`, until `done` holds for the run or the time is up.
 */
export async function driveRun(
  system: System,
  runId: string,
  options: {
    done?: (run: Run) => boolean;
    timeoutMs?: number;
    reconcileEveryMs?: number;
    handler?: BatchHandler;
    /** Hand notification messages to this lane, as the local stack does, instead of waiting for them. */
    lane?: NotificationLane;
  } = {},
): Promise<Run> {
  const handler = options.handler ?? createSchedulerHandler(system);
  const done = options.done ?? ((run: Run) => isTerminalRun(run.status));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  const every = options.reconcileEveryMs ?? 200;
  let lastReconcile = 0;
  for (;;) {
    const run = await system.stores.runs.getRun(runId);
    if (run && done(run)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} did not get there in time: ${JSON.stringify(summary(run))}`);
    if (Date.now() - lastReconcile >= every) {
      await reconcileAll(
        { runs: system.stores.runs, queue: system.queue, clock: system.clock },
        every / 1000,
      );
      lastReconcile = Date.now();
    }
    const { received } = await pollOnce(system.queues.queue, handler, {
      waitSeconds: 0,
      ...(options.lane && { lane: options.lane }),
    });
    if (received === 0) await new Promise((r) => setTimeout(r, 25));
  }
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
