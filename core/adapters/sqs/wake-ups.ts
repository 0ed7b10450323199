import {
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Clock, WakeReason, WakeUps } from "../../ports.js";
import { deleteReceived } from "./queue.js";

/** SQS delays one message by at most 15 minutes; a later wake-up is re-sent when it arrives (re-chained). */
export const MAX_DELAY_SECONDS = 900;

/** When a wake-up is due, in whole seconds from now, as SQS's DelaySeconds takes it: never early, at most 900. */
export function delaySecondsUntil(at: string, now: string): number {
  const seconds = Math.ceil((Date.parse(at) - Date.parse(now)) / 1000);
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, seconds));
}

/**
 * Wake-ups on a standard SQS queue with a per-message DelaySeconds (a FIFO queue has none). A standard queue may
 * deliver a message twice or out of order: harmless, since a wake-up only asks for a reconcile of its run
 * (core/services/wake-ups.ts forwards it to the run's FIFO message group).
 */
export class SqsWakeUps implements WakeUps {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
    private readonly clock: Clock,
  ) {}

  async schedule(runId: string, at: string, reason: WakeReason): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify({ runId, at, reason }),
        DelaySeconds: delaySecondsUntil(at, this.clock.now()),
      }),
    );
  }

  /** Long-polls for due wake-ups (the local stack's stand-in for Lambda's event source mapping). */
  async receive(options: { max?: number; waitSeconds?: number } = {}): Promise<Message[]> {
    const { Messages } = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: options.max ?? 10,
        WaitTimeSeconds: options.waitSeconds ?? 20,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
    return Messages ?? [];
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.client.send(
      new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }),
    );
  }

  deleteAll(receiptHandles: string[]): Promise<{ failed: number }> {
    return deleteReceived(this.client, this.queueUrl, receiptHandles);
  }
}

/** Creates the standard wake-up queue (tests and the local stack; SST creates it on AWS). */
export async function ensureWakeQueue(
  client: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds: number },
): Promise<string> {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds) },
    }),
  );
  return QueueUrl as string;
}
