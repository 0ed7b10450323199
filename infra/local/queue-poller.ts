import type { Message } from "@aws-sdk/client-sqs";
import type { Logger } from "../../core/ports.js";
import type { BatchResponse, QueueRecord } from "../../core/services/batch.js";

/** A queue the poller reads: the FIFO work queue or the standard wake-up queue. */
export interface PolledQueue {
  receive(options: { max?: number; waitSeconds?: number }): Promise<Message[]>;
  delete(receiptHandle: string): Promise<void>;
}

export type BatchHandler = (event: { Records: QueueRecord[] }) => Promise<BatchResponse>;

function toRecord(message: Message): QueueRecord {
  return {
    messageId: message.MessageId ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount,
      MessageGroupId: message.Attributes?.MessageGroupId,
    },
  };
}

/**
 * One round of what Lambda's SQS event source does: receive a batch, hand it to the same handler Lambda calls,
 * delete what succeeded. Failed messages stay, to come back after their visibility timeout.
 */
export async function pollOnce(
  queue: PolledQueue,
  handler: BatchHandler,
  options: { waitSeconds?: number; max?: number } = {},
): Promise<{ received: number; failed: number }> {
  const messages = await queue.receive({ waitSeconds: options.waitSeconds ?? 20, max: options.max ?? 10 });
  if (messages.length === 0) return { received: 0, failed: 0 };
  const response = await handler({ Records: messages.map(toRecord) });
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  await Promise.all(
    messages.filter((m) => !failed.has(m.MessageId ?? "")).map((m) => queue.delete(m.ReceiptHandle ?? "")),
  );
  return { received: messages.length, failed: failed.size };
}

/** Polls until stopped; `stop` waits for the batch in hand to finish. */
export function startQueuePoller(queue: PolledQueue, handler: BatchHandler, log: Logger, waitSeconds = 2) {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await pollOnce(queue, handler, { waitSeconds });
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
    },
  };
}
