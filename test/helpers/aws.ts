import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { inject } from "vitest";
import { dynamoStores } from "../../core/adapters/dynamo/store.js";
import { ensureTable } from "../../core/adapters/dynamo/table.js";
import { createS3Client, S3RVER_CREDENTIALS } from "../../core/adapters/s3/log-archive.js";
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

/** A client of s3rver (or `endpoint`), configured as the product configures its own. */
export function s3Client(endpoint = inject("s3Endpoint")): S3Client {
  return createS3Client({ region: LOCAL_REGION, endpoint, credentials: S3RVER_CREDENTIALS });
}

/** A new bucket on s3rver (or `endpoint`), so test files never see each other's objects. */
export async function freshBucket(endpoint = inject("s3Endpoint")): Promise<string> {
  const client = s3Client(endpoint);
  const bucket = unique("hookflow-logs");
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

/** Every object of a bucket, its key and its content as stored (gzip parts unzipped), to search them. */
export async function bucketContents(
  bucket: string,
  endpoint = inject("s3Endpoint"),
): Promise<Array<{ key: string; text: string }>> {
  const { gunzipSync } = await import("node:zlib");
  const client = s3Client(endpoint);
  const objects: Array<{ key: string; text: string }> = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const item of page.Contents ?? []) {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: item.Key }));
      const bytes = Buffer.from((await answer.Body?.transformToByteArray()) ?? []);
      const text = item.Key?.endsWith(".gz") ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
      objects.push({ key: item.Key ?? "", text });
    }
    token = page.NextContinuationToken;
  } while (token);
  client.destroy();
  return objects;
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
