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

/** The round trips of traced requests, counted as the cold-start bench counts them. */
export { roundTrips } from "../../bench/route-shape.js";

export function dynamoClient(endpoint = inject("dynamoEndpoint")): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
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

/**
 * Acts once on the first request of `client` from now on that `matches` (its command without "Command", and its
 * input): `before` it is sent (throwing there fails it unsent: DynamoDB never saw it, as when it is unreachable),
 * or `after` its answer (throwing there loses the answer of a write that was done, as a crash would). For faults
 * and races the emulator cannot produce on demand. Returns whether it has acted yet.
 */
export function interceptOnce(
  client: DynamoDBClient,
  matches: (command: string, input: Record<string, unknown>) => boolean,
  act: { before?: () => unknown; after?: () => unknown },
): () => boolean {
  let acted = false;
  type Next = (args: { input: Record<string, unknown> }) => Promise<unknown>;
  client.middlewareStack.add(
    ((next: Next, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      const command = context.commandName?.replace(/Command$/, "") ?? "?";
      if (acted || !matches(command, args.input)) return next(args);
      acted = true;
      await act.before?.();
      const result = await next(args);
      await act.after?.();
      return result;
    }) as never,
    { step: "initialize", name: `interceptOnce${randomUUID()}` } as never,
  );
  return () => acted;
}

/** For `interceptOnce`: fails the request unsent, as when DynamoDB is unreachable. */
export const UNREACHABLE = {
  before: () => {
    throw new Error("DynamoDB unreachable");
  },
};

/** A request a client sent: its command, and when it started and ended (`performance.now()`). */
export interface TracedRequest {
  name: string;
  start: number;
  end: number;
}

/** Records every request the clients send, as `<service>.<command>` (`DynamoDB.Query`), in the order they start. */
export function traceRequests(
  ...clients: Array<{ middlewareStack: { add(middleware: never, options: never): void } }>
): TracedRequest[] {
  const traced: TracedRequest[] = [];
  type Next = (args: unknown) => Promise<unknown>;
  type Context = { clientName?: string; commandName?: string };
  for (const client of clients)
    client.middlewareStack.add(
      ((next: Next, context: Context) => async (args: unknown) => {
        const request = {
          name: `${context.clientName?.replace(/Client$/, "")}.${context.commandName?.replace(/Command$/, "")}`,
          start: performance.now(),
          end: Number.POSITIVE_INFINITY,
        };
        traced.push(request);
        try {
          return await next(args);
        } finally {
          request.end = performance.now();
        }
      }) as never,
      { step: "initialize", name: "traceRequests" } as never,
    );
  return traced;
}

/** A TCP proxy in front of `endpoint` (`http://host:port`) that counts the connections clients open to it. */
export async function countingProxy(endpoint: string) {
  const { createServer, connect } = await import("node:net");
  const target = new URL(endpoint);
  const sockets = new Set<{ destroy(): void }>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    const upstream = connect(Number(target.port), target.hostname);
    socket.pipe(upstream).pipe(socket);
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        socket.destroy();
        upstream.destroy();
        sockets.delete(s);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
