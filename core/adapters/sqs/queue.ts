import { createHash } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { RetryableError } from "../../errors.js";
import type { QueueDepth, QueueInspector, WorkMessage, WorkQueue } from "../../ports.js";

const BATCH = 10;

const NOTIFICATION_GROUP = "notify:";

/** The message group of a message, as the WorkQueue port states it: the run's own, or its notifications'. */
export function messageGroup(message: WorkMessage): string {
  return "deliver" in message ? NOTIFICATION_GROUP + message.runId : message.runId;
}

/** Whether a message group holds notifications (the local poller handles those beside the runs' groups). */
export function isNotificationGroup(group: string | undefined): boolean {
  return group?.startsWith(NOTIFICATION_GROUP) ?? false;
}

/**
 * The work queue on SQS FIFO: one message group per run, so a run's messages are handled one at a time and in
 * order, while different runs proceed in parallel; a run's notifications have a group of their own. The
 * deduplication id is a hash of the effect's idempotency key (SQS allows 128 characters of a limited alphabet).
 */
export class SqsWorkQueue implements WorkQueue, QueueInspector {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  async send(messages: Array<WorkMessage & { dedupKey: string }>): Promise<void> {
    const entries = messages.map((m, n) => ({
      Id: String(n % BATCH),
      MessageBody: JSON.stringify(
        "deliver" in m
          ? { runId: m.runId, deliver: m.deliver }
          : { runId: m.runId, event: m.event, ...(m.observe === false && { observe: false }) },
      ),
      MessageGroupId: messageGroup(m),
      MessageDeduplicationId: createHash("sha256").update(m.dedupKey).digest("hex"),
    }));
    if (entries.length === 1) {
      // The common case (one run per delivery or callback): a plain send is the cheaper request.
      const { Id: _, ...entry } = entries[0] as (typeof entries)[number];
      await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, ...entry }));
      return;
    }
    for (let i = 0; i < entries.length; i += BATCH) {
      const result = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries.slice(i, i + BATCH) }),
      );
      if (result.Failed && result.Failed.length > 0)
        throw new RetryableError(
          `queue refused ${result.Failed.length} message(s): ${result.Failed[0]?.Message ?? "unknown"}`,
        );
    }
  }

  /** The queue's approximate counts, and its dead-letter queue's (found through its RedrivePolicy). */
  async depth(): Promise<QueueDepth> {
    const { Attributes = {} } = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "RedrivePolicy",
        ],
      }),
    );
    const count = (value: string | undefined) => Number(value ?? 0);
    const depth: QueueDepth = {
      waiting: count(Attributes.ApproximateNumberOfMessages),
      inFlight: count(Attributes.ApproximateNumberOfMessagesNotVisible),
    };
    const deadArn = Attributes.RedrivePolicy
      ? (JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn
      : undefined;
    // arn:aws:sqs:<region>:<account>:<name>
    const [, , , , account, name] = deadArn?.split(":") ?? [];
    if (!name) return depth;
    const { QueueUrl } = await this.client.send(
      new GetQueueUrlCommand({ QueueName: name, ...(account && { QueueOwnerAWSAccountId: account }) }),
    );
    const dead = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    return { ...depth, deadLetters: count(dead.Attributes?.ApproximateNumberOfMessages) };
  }

  /** Long-polls for messages (the local stack's stand-in for Lambda's event source mapping). */
  async receive(
    options: { max?: number; waitSeconds?: number; visibilityTimeout?: number } = {},
  ): Promise<Message[]> {
    const { Messages } = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: options.max ?? BATCH,
        WaitTimeSeconds: options.waitSeconds ?? 20,
        ...(options.visibilityTimeout !== undefined && { VisibilityTimeout: options.visibilityTimeout }),
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp"],
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

/**
 * Deletes handled messages ten to a request, as Lambda's event source mapping deletes a handled batch (the local
 * pollers stand in for it). A message whose delete fails comes back after its visibility timeout and is handled
 * again, which every handler tolerates (how many failed is returned).
 */
export async function deleteReceived(
  client: SQSClient,
  queueUrl: string,
  receiptHandles: string[],
): Promise<{ failed: number }> {
  let failed = 0;
  for (let i = 0; i < receiptHandles.length; i += BATCH) {
    const result = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: receiptHandles
          .slice(i, i + BATCH)
          .map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle })),
      }),
    );
    failed += result.Failed?.length ?? 0;
  }
  return { failed };
}

export interface QueueNames {
  work: string;
  dead: string;
}

/**
 * Creates the FIFO work queue and its dead-letter queue (used by tests and the local stack; SST creates them on
 * AWS). A message that fails `maxReceiveCount` times moves to the dead-letter queue instead of blocking its run.
 */
export async function ensureQueues(
  client: SQSClient,
  names: QueueNames,
  options: { visibilityTimeoutSeconds: number; maxReceiveCount?: number },
): Promise<{ workUrl: string; deadUrl: string }> {
  const fifo = { FifoQueue: "true" };
  const dead = await client.send(new CreateQueueCommand({ QueueName: names.dead, Attributes: fifo }));
  const deadUrl = dead.QueueUrl as string;
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadUrl, AttributeNames: ["QueueArn"] }),
  );
  const work = await client.send(
    new CreateQueueCommand({
      QueueName: names.work,
      Attributes: {
        ...fifo,
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: String(options.maxReceiveCount ?? 5),
        }),
      },
    }),
  );
  return { workUrl: work.QueueUrl as string, deadUrl };
}
