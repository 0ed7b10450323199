import type { BatchResponse, QueueRecord } from "../core/services/batch.js";
import { handleWakeUps, type WakeUpDeps } from "../core/services/wake-ups.js";
import { lazyHandler, WAKE_UP_STORES, wakeUpDeps } from "../core/wiring.js";

/**
 * The wake-up queue's SQS handler: each due wake-up becomes a reconcile on the work queue, where the scheduler
 * takes it (partial batch). It loads no runner, so it starts as cheaply as the reconciler.
 */
export function createWakeUpHandler(deps: WakeUpDeps) {
  return (event: { Records: QueueRecord[] }): Promise<BatchResponse> => handleWakeUps(event.Records, deps);
}

export const handler = lazyHandler(WAKE_UP_STORES, (base) => createWakeUpHandler(wakeUpDeps(base)));
