import type { Message } from "@aws-sdk/client-sqs";
import { isNotificationGroup } from "../../core/adapters/sqs/queue.js";
import type { Logger } from "../../core/ports.js";
import type { BatchResponse, QueueRecord } from "../../core/services/batch.js";

/** A queue the poller reads: the FIFO work queue or the standard wake-up queue. */
export interface PolledQueue {
  receive(options: { max?: number; waitSeconds?: number }): Promise<Message[]>;
  deleteAll(receiptHandles: string[]): Promise<{ failed: number }>;
}

export type BatchHandler = (event: { Records: QueueRecord[] }) => Promise<BatchResponse>;

function toRecord(message: Message): QueueRecord {
  return {
    messageId: message.MessageId ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount,
      MessageGroupId: message.Attributes?.MessageGroupId,
      SentTimestamp: message.Attributes?.SentTimestamp,
    },
  };
}

/**
 * Notification messages handled beside the runs' batches, the way separate Lambda invocations would be: the poll
 * loop receives again while they are in flight, so a slow notification target never holds up a run.
 */
export class NotificationLane {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly max = 20) {}

  get size(): number {
    return this.inFlight.size;
  }

  add(work: Promise<void>): void {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Waits while the lane is full, so the loop does not take more than it can hold. */
  async room(): Promise<void> {
    while (this.inFlight.size >= this.max) await Promise.race(this.inFlight);
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

/**
 * One round of what Lambda's SQS event source does: receive a batch, hand it to the same handler Lambda calls,
 * delete what succeeded, in one request per ten. Failed messages stay, to come back after their visibility timeout. With a `lane`,
 * notification messages are handed to it and this returns without waiting for them.
 */
export async function pollOnce(
  queue: PolledQueue,
  handler: BatchHandler,
  options: { waitSeconds?: number; max?: number; lane?: NotificationLane } = {},
): Promise<{ received: number; failed: number }> {
  await options.lane?.room();
  const messages = await queue.receive({ waitSeconds: options.waitSeconds ?? 20, max: options.max ?? 10 });
  if (messages.length === 0) return { received: 0, failed: 0 };
  const aside = options.lane ? messages.filter((m) => isNotificationGroup(m.Attributes?.MessageGroupId)) : [];
  for (const message of aside)
    options.lane?.add(
      handleAndDelete(queue, handler, [message]).then(
        () => undefined,
        () => undefined, // failures stay in the queue and come back, as in the batch below
      ),
    );
  const batch = messages.filter((m) => !aside.includes(m));
  const failed = batch.length > 0 ? await handleAndDelete(queue, handler, batch) : 0;
  return { received: messages.length, failed };
}

async function handleAndDelete(queue: PolledQueue, handler: BatchHandler, messages: Message[]) {
  const response = await handler({ Records: messages.map(toRecord) });
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  await queue.deleteAll(
    messages.filter((m) => !failed.has(m.MessageId ?? "")).map((m) => m.ReceiptHandle ?? ""),
  );
  return failed.size;
}

/** Polls until stopped; `stop` waits for the batch in hand and the notifications in flight to finish. */
export function startQueuePoller(queue: PolledQueue, handler: BatchHandler, log: Logger, waitSeconds = 2) {
  let running = true;
  const lane = new NotificationLane();
  const loop = (async () => {
    while (running) {
      try {
        await pollOnce(queue, handler, { waitSeconds, lane });
      } catch (error) {
        if (!running) break;
        log.error("queue poll failed", { error: String(error) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await lane.drain();
    },
  };
}
