/**
 * webhook-ingest: signed GitHub pushes through the webhook app (verify, normalise, match, claim the body, store
 * the run, queue it) against the floor: the same PutItem + SendMessage alone, with the same clients and
 * emulators. Latency: both sides in this process, interleaved request by request, so that neither gets a warmer
 * or quieter emulator. Throughput: each side alone, in alternating blocks.
 */
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { runItem } from "../core/adapters/dynamo/run-items.js";
import { signGithub } from "../core/adapters/git/index.js";
import { createRun } from "../core/engine/index.js";
import { Pipeline } from "../core/model/index.js";
import { webhookDeps } from "../core/wiring.js";
import { createWebhookApp } from "../functions/webhook.js";
import { benchSystem, githubPushBody, percentile, startEmulators, table, timed } from "./common.js";

const TOTAL = Number(process.env.BENCH_DELIVERIES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECRET = "bench-github-secret";

const pipeline = Pipeline.parse({
  name: "web",
  triggers: [{ provider: "github", repository: "acme/web-app", branches: ["main"] }],
  stages: [
    {
      name: "check",
      parallel: true,
      tasks: [1, 2, 3].map((i) => ({ name: `t${i}`, run: { image: "node:22", command: ["npm", "test"] } })),
    },
  ],
});

function push(i: number): string {
  return githubPushBody("acme/web-app", i, { added: [`src/file${i}.ts`], modified: ["src/index.ts"] });
}

const emulators = await startEmulators();
try {
  const { base, dynamo, sqs, queues, counter } = await benchSystem(emulators, "bench-ingest");
  await base.stores.definitions.putPipeline(pipeline, new Date().toISOString());
  const app = createWebhookApp(webhookDeps(base));

  // One body per delivery: a body sent again under another delivery id is a replay, which starts nothing.
  const WARM = 100;
  const bodies = Array.from({ length: 2 * TOTAL + WARM }, (_, i) => push(i));
  const signatures = bodies.map((b) => signGithub(b, SECRET));
  const sampleRun = createRun({
    id: "floorsample",
    pipeline,
    jobs: {},
    trigger: {
      provider: "github",
      event: "push",
      repository: "acme/web-app",
      cloneUrl: "",
      ref: "refs/heads/main",
      branch: "main",
      commit: "1".repeat(40),
      message: "m",
      author: "a",
    },
    now: new Date().toISOString(),
  });

  const hookflow: number[] = [];
  const floor: number[] = [];
  // Warm both paths (connections, JIT) before measuring.
  await timed(WARM, CONCURRENCY, async (i) => {
    const res = await app.request("/webhooks/github", {
      method: "POST",
      headers: {
        "x-github-event": "push",
        "x-github-delivery": `warm-${i}`,
        "x-hub-signature-256": signatures[2 * TOTAL + i] as string,
        "content-type": "application/json",
      },
      body: bodies[2 * TOTAL + i],
    });
    if (res.status !== 202) throw new Error(`warm-up got ${res.status}`);
  });
  let accepted = 0;
  async function deliver(n: number, delivery: string): Promise<void> {
    const res = await app.request("/webhooks/github", {
      method: "POST",
      headers: {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": signatures[n] as string,
        "content-type": "application/json",
      },
      body: bodies[n],
    });
    if (res.status !== 202) throw new Error(`delivery ${delivery} got ${res.status}: ${await res.text()}`);
    accepted++;
  }
  async function floorOnce(id: string): Promise<void> {
    await dynamo.send(
      new PutItemCommand({
        TableName: "bench-ingest",
        Item: runItem({ ...sampleRun, id, version: 1 }),
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.workUrl,
        MessageBody: JSON.stringify({ runId: id, event: { type: "run.created" } }),
        MessageGroupId: id,
        MessageDeduplicationId: id,
      }),
    );
  }

  // Latency: both sides interleaved request by request, so that each sees the same emulators under the same load.
  counter.reset();
  await timed(2 * TOTAL, CONCURRENCY, async (k) => {
    const n = k >> 1;
    const t0 = performance.now();
    if (k % 2 === 0) {
      await deliver(n, `d-${n}`);
      hookflow.push(performance.now() - t0);
    } else {
      await floorOnce(`floor${n}`);
      floor.push(performance.now() - t0);
    }
  });
  const perDelivery = (counter.total() / TOTAL).toFixed(2);

  // Throughput: each side alone, in alternating blocks of a quarter each, so that drift hits both.
  const elapsed = { hookflow: 0, floor: 0 };
  const block = Math.ceil(TOTAL / 4);
  for (let b = 0; b < 4; b++) {
    elapsed.floor += (await timed(block, CONCURRENCY, (i) => floorOnce(`tput${b}-${i}`))).elapsedMs;
    elapsed.hookflow += (
      await timed(block, CONCURRENCY, (i) => deliver(TOTAL + b * block + i, `t${b}-${i}`))
    ).elapsedMs;
  }
  hookflow.sort((a, b) => a - b);
  floor.sort((a, b) => a - b);
  const row = (name: string, l: number[], ms: number, requests: string) => ({
    "requests per delivery": requests,
    side: name,
    deliveries: l.length,
    "p50 ms": percentile(l, 50),
    "p99 ms": percentile(l, 99),
    "deliveries per second (alone)": ((4 * block) / ms) * 1000,
  });
  console.log(
    `webhook-ingest: ${TOTAL} signed GitHub pushes, ${CONCURRENCY} at a time, DynamoDB Local + fauxqs`,
  );
  console.log(
    table([
      row("hookflow webhook", hookflow, elapsed.hookflow, perDelivery),
      row("floor: PutItem + SendMessage", floor, elapsed.floor, "2.00"),
    ]),
  );
  console.log(`hookflow requests, both phases: ${JSON.stringify(Object.fromEntries(counter.counts))}`);
  console.log(`accepted ${accepted}/${TOTAL + 4 * block}`);
  console.log(
    `webhook-ingest throughput ratio: ${(elapsed.hookflow / elapsed.floor).toFixed(2)} (time for the same number alone)`,
  );
  const ratio = percentile(hookflow, 50) / percentile(floor, 50);
  console.log(`webhook-ingest p99 ratio: ${(percentile(hookflow, 99) / percentile(floor, 99)).toFixed(2)}`);
  console.log(`webhook-ingest ratio: ${ratio.toFixed(2)}`);
} finally {
  await emulators.stop();
}
