import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ensureTable } from "../core/adapters/dynamo/table.js";
import { createS3Client, S3RVER_CREDENTIALS } from "../core/adapters/s3/log-archive.js";
import { ensureQueues } from "../core/adapters/sqs/queue.js";
import { silentLogger } from "../core/adapters/system.js";
import { type Config, loadConfig } from "../core/config.js";
import { type Base, buildBase, type Overrides } from "../core/wiring.js";
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type RunningEmulator,
  startDynamoLocal,
  startS3Emulator,
  startSqsEmulator,
} from "../infra/local/emulators.js";

// The SDK warns on Node 20 about its releases after January 2027; the lockfile pins this one, which supports 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export interface Emulators {
  dynamo: RunningEmulator;
  sqs: RunningEmulator;
  s3: RunningEmulator;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const s3Dir = mkdtempSync(join(tmpdir(), "hookflow-bench-s3-"));
  const [dynamo, sqs, s3] = await Promise.all([
    startDynamoLocal(),
    startSqsEmulator(),
    startS3Emulator({ dataDir: s3Dir }),
  ]);
  return {
    dynamo,
    sqs,
    s3,
    stop: async () => {
      await Promise.all([dynamo.stop(), sqs.stop(), s3.stop()]);
      rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}

/** Counts SDK requests by command, the same way for hookflow and for the floor; and the bytes S3 stores. */
export class RequestCounter {
  readonly counts = new Map<string, number>();
  /** Bytes of the bodies sent with PutObject (what S3 stores and bills by the GB-month). */
  putBytes = 0;

  attach(client: { middlewareStack: { add(middleware: never, options: never): void } }): void {
    type Next = (args: unknown) => Promise<unknown>;
    type Context = { clientName?: string; commandName?: string };
    client.middlewareStack.add(
      ((next: Next, context: Context) => async (args: unknown) => {
        const name = `${context.clientName?.replace("Client", "") ?? "?"}.${context.commandName?.replace("Command", "") ?? "?"}`;
        this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
        const body = (args as { input?: { Body?: unknown } }).input?.Body;
        if (name === "S3.PutObject" && body instanceof Uint8Array) this.putBytes += body.byteLength;
        return next(args);
      }) as never,
      { step: "initialize", name: "hookflowRequestCounter" } as never,
    );
  }

  total(prefix?: string): number {
    let sum = 0;
    for (const [name, count] of this.counts) if (!prefix || name.startsWith(prefix)) sum += count;
    return sum;
  }

  reset(): void {
    this.counts.clear();
    this.putBytes = 0;
  }
}

/** A table and FIFO queue of their own on the emulators, and the product wired to them. */
export async function benchSystem(
  emulators: Emulators,
  name: string,
  overrides: Overrides = {},
  env: Record<string, string> = {},
) {
  const dynamo = new DynamoDBClient({
    endpoint: emulators.dynamo.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const sqs = new SQSClient({
    endpoint: emulators.sqs.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  await ensureTable(dynamo, name);
  const queues = await ensureQueues(
    sqs,
    { work: `${name}.fifo`, dead: `${name}-dead.fifo` },
    { visibilityTimeoutSeconds: 60 },
  );
  const s3 = createS3Client({
    region: LOCAL_REGION,
    endpoint: emulators.s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  const config: Config = loadConfig({
    HOOKFLOW_S3_ENDPOINT: emulators.s3.endpoint,
    HOOKFLOW_LOG_BUCKET: name,
    HOOKFLOW_TABLE: name,
    HOOKFLOW_QUEUE_URL: queues.workUrl,
    HOOKFLOW_DYNAMODB_ENDPOINT: emulators.dynamo.endpoint,
    HOOKFLOW_SQS_ENDPOINT: emulators.sqs.endpoint,
    HOOKFLOW_TOKEN_SECRET: "bench-token-secret-0123456789",
    HOOKFLOW_API_TOKEN: "bench-api-token",
    HOOKFLOW_GITHUB_SECRET: "bench-github-secret",
    ...env,
  });
  // hookflow gets clients of its own, counted separately from the floor's.
  const counter = new RequestCounter();
  const ours: { dynamoClient: DynamoDBClient; sqsClient: SQSClient; s3Client: S3Client } = {
    s3Client: createS3Client({
      region: LOCAL_REGION,
      endpoint: emulators.s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    }),
    dynamoClient: new DynamoDBClient({
      endpoint: emulators.dynamo.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    }),
    sqsClient: new SQSClient({
      endpoint: emulators.sqs.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    }),
  };
  counter.attach(ours.dynamoClient);
  counter.attach(ours.sqsClient);
  counter.attach(ours.s3Client);
  const base: Base = buildBase(config, { log: silentLogger, ...ours, ...overrides });
  return { base, dynamo, sqs, queues, config, counter, clients: ours };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function table(rows: Array<Record<string, string | number>>): string {
  const columns = Object.keys(rows[0] ?? {});
  const cell = (v: string | number) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? "").length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] as number)).join(" | ")} |`;
  return [
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c] ?? "")))),
  ].join("\n");
}

/** Runs `work` `count` times with at most `concurrency` at once; returns each one's latency in ms. */
export async function timed(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await work(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), elapsedMs: performance.now() - started };
}

/**
 * A GitHub push body (the fields hookflow reads), a new random commit on `main` of `repository`: what the
 * benchmarks sign and deliver. `files` are the commit's added and modified paths.
 */
export function githubPushBody(
  repository: string,
  sample: number,
  files: { added: string[]; modified: string[] },
): string {
  const sha = randomBytes(20).toString("hex");
  const commit = {
    id: sha,
    message: `Change ${sample}`,
    timestamp: "2026-12-01T10:00:00Z",
    author: { name: "Alice", email: "alice@example.com", username: "alice" },
    ...files,
    removed: [],
  };
  return JSON.stringify({
    ref: "refs/heads/main",
    before: "1".repeat(40),
    after: sha,
    deleted: false,
    repository: {
      full_name: repository,
      name: repository.split("/")[1],
      clone_url: `https://github.com/${repository}.git`,
      owner: { login: repository.split("/")[0] },
    },
    pusher: { name: "alice", email: "alice@example.com" },
    head_commit: commit,
    commits: [commit],
  });
}
