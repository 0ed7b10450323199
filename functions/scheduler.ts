import type { Logger } from "../core/ports.js";
import { type BatchResponse, processBatch, type QueueRecord } from "../core/services/batch.js";
import type { Scheduler } from "../core/services/scheduler.js";
import { handleWakeUps, type WakeUpDeps } from "../core/services/wake-ups.js";
import { lazyHandler, schedulerDeps, wakeUpDeps } from "../core/wiring.js";

export interface SchedulerDeps {
  scheduler: Scheduler;
  log: Logger;
}

/** The SQS handler: each work message applied to its run; failures reported per message (partial batch). */
export function createSchedulerHandler(deps: SchedulerDeps) {
  return (event: { Records: QueueRecord[] }): Promise<BatchResponse> =>
    processBatch(event.Records, (message) => deps.scheduler.handle(message), deps.log);
}

export const handler = lazyHandler(async (base) => createSchedulerHandler(await schedulerDeps(base)));

/** The wake-up queue's handler: each due wake-up becomes a reconcile on the work queue (partial batch). */
export function createWakeUpHandler(deps: WakeUpDeps) {
  return (event: { Records: QueueRecord[] }): Promise<BatchResponse> => handleWakeUps(event.Records, deps);
}

export const wakeUpHandler = lazyHandler((base) => createWakeUpHandler(wakeUpDeps(base)));
