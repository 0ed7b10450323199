import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { inject } from "vitest";
import { dynamoStores } from "../../core/adapters/dynamo/store.js";
import { ensureTable } from "../../core/adapters/dynamo/table.js";
import { ensureQueues, SqsWorkQueue } from "../../core/adapters/sqs/queue.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../infra/local/emulators.js";

export function dynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: inject("dynamoEndpoint"),
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
}

export function sqsClient(): SQSClient {
  return new SQSClient({
    endpoint: inject("sqsEndpoint"),
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
}

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A new table on DynamoDB Local, so test files never see each other's items. */
export async function freshStore(options: { deliveryTtlSeconds?: number } = {}) {
  const client = dynamoClient();
  const table = unique("hookflow-test");
  await ensureTable(client, table);
  return { client, table, stores: dynamoStores({ client, table, ...options }) };
}

/** New FIFO work and dead-letter queues on the SQS emulator. */
export async function freshQueue(
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {},
) {
  const client = sqsClient();
  const name = unique("hookflow-test");
  const urls = await ensureQueues(
    client,
    { work: `${name}.fifo`, dead: `${name}-dead.fifo` },
    {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
      maxReceiveCount: options.maxReceiveCount,
    },
  );
  return {
    client,
    ...urls,
    queue: new SqsWorkQueue(client, urls.workUrl),
    dead: new SqsWorkQueue(client, urls.deadUrl),
  };
}

/** Records the name of every request `client` sends from now on ("GetItem", "PutItem", …). */
export function recordRequests(client: DynamoDBClient): string[] {
  const sent: string[] = [];
  type Next = (args: unknown) => Promise<unknown>;
  client.middlewareStack.add(
    ((next: Next, context: { commandName?: string }) => async (args: unknown) => {
      sent.push(context.commandName?.replace(/Command$/, "") ?? "?");
      return next(args);
    }) as never,
    { step: "initialize", name: "recordRequests" } as never,
  );
  return sent;
}
