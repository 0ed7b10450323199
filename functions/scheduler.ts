import type { Clock, Logger, Metrics } from "../core/ports.js";
import { type BatchResponse, processBatch, type QueueRecord } from "../core/services/batch.js";
import type { Scheduler } from "../core/services/scheduler.js";
import { lazyHandler, SCHEDULER_STORES, schedulerDeps } from "../core/wiring.js";

export interface SchedulerDeps {
  scheduler: Scheduler;
  log: Logger;
  /** `QueueAge` of each message taken. */
  metrics?: Metrics;
  clock?: Clock;
}

/** The SQS handler: each work message applied to its run; failures reported per message (partial batch). */
export function createSchedulerHandler(deps: SchedulerDeps) {
  return (event: { Records: QueueRecord[] }): Promise<BatchResponse> =>
    processBatch(
      event.Records,
      (message, log) => deps.scheduler.handle(message, log),
      deps.log,
      deps.metrics && deps.clock && { metrics: deps.metrics, clock: deps.clock },
    );
}

export const handler = lazyHandler(SCHEDULER_STORES, async (base, finishing) =>
  createSchedulerHandler(await schedulerDeps(base, {}, finishing)),
);
