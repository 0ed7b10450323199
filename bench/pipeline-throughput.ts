/**
 * pipeline-throughput: runs of a 3-stage, 5-task pipeline through the real scheduler handler and callback app on
 * the emulators, with an instant runner whose Jobs call back as soon as they are submitted. Prints runs per
 * second, DynamoDB and SQS requests per task against the minimum the design needs, the log archive's S3 requests
 * and bytes per task, and what that costs on AWS.
 */
import { randomBytes } from "node:crypto";
import { callbackTaskId, createRun } from "../core/engine/index.js";
import { DEFAULT_TASK_TIMEOUT_SECONDS, isTerminalRun, Pipeline } from "../core/model/index.js";
import { callbackDeps, schedulerDeps } from "../core/wiring.js";
import { createCallbackApp } from "../functions/callback.js";
import { createSchedulerHandler } from "../functions/scheduler.js";
import { pollOnce } from "../infra/local/queue-poller.js";
import { MemoryRunner } from "../test/helpers/memory-runner.js";
import { benchSystem, startEmulators, table } from "./common.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 500);
const POLLERS = Number(process.env.BENCH_POLLERS ?? 6);
/** With 1, every Job also reports `running` before it succeeds (queued → running → succeeded). */
const RUNNING_REPORTS = process.env.BENCH_RUNNING_REPORTS === "1";
const TASKS_PER_RUN = 5;
/**
 * The pipeline's running tasks across its runs (maxRunningTasks): by default as many as the product allows, so
 * the benchmark measures the control plane rather than the limit; BENCH_MAX_RUNNING_TASKS=10 shows the default.
 */
const MAX_RUNNING_TASKS = Number(process.env.BENCH_MAX_RUNNING_TASKS ?? 100);

const pipeline = Pipeline.parse({
  name: "three-stages",
  maxRunningTasks: MAX_RUNNING_TASKS,
  stages: [
    {
      name: "build",
      tasks: [{ name: "compile", run: { image: "node:22", command: ["npm", "run", "build"] } }],
    },
    {
      name: "test",
      parallel: true,
      tasks: ["unit", "lint", "e2e"].map((name) => ({
        name,
        run: { image: "node:22", command: ["npm", "test"] },
      })),
    },
    {
      name: "ship",
      tasks: [
        {
          name: "deploy",
          run: { image: "alpine", command: ["true"] },
          timeoutSeconds: DEFAULT_TASK_TIMEOUT_SECONDS,
        },
      ],
    },
  ],
});

const emulators = await startEmulators();
try {
  const runner = new MemoryRunner();
  const { base, counter, clients } = await benchSystem(emulators, "bench-pipeline", { runner });
  const scheduling = await schedulerDeps(base, { runner, s3Client: clients.s3Client });
  const handler = createSchedulerHandler(scheduling);
  const callbacks = createCallbackApp(callbackDeps(base));
  const tokens = callbackDeps(base).tokens;

  // The instant runner: every submitted Job reports success through its callback right away.
  const inflight = new Set<Promise<void>>();
  runner.onSubmit = (launch) => {
    const callback = async (body: object) => {
      const res = await callbacks.request(
        `/callbacks/tasks/${callbackTaskId(launch.runId, launch.task, launch.attempt)}`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${tokens.tokenFor(launch)}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
        },
      );
      if (res.status !== 200) throw new Error(`callback ${res.status}: ${await res.text()}`);
    };
    const report = (async () => {
      if (RUNNING_REPORTS) await callback({ status: "running" });
      // Its container has exited by the time its report is handled, so its log is complete and is archived.
      runner.set(launch.jobName, { state: "succeeded" });
      await callback({ status: "succeeded", outputs: { [`${launch.task.toUpperCase()}_DONE`]: "1" } });
    })();
    inflight.add(report);
    void report.finally(() => inflight.delete(report));
  };

  const now = new Date().toISOString();
  const trigger = {
    provider: "github" as const,
    event: "push" as const,
    repository: "acme/app",
    cloneUrl: "",
    ref: "refs/heads/main",
    branch: "main",
    message: "m",
    author: "a",
  };
  const runs = Array.from({ length: RUNS }, () =>
    createRun({
      id: randomBytes(10).toString("hex"),
      pipeline,
      jobs: {},
      trigger: { ...trigger, commit: randomBytes(20).toString("hex") },
      now,
    }),
  );
  // As the webhook would: one conditional write and one message per run.
  counter.reset();
  const started = performance.now();
  await Promise.all(runs.map((run) => base.stores.deliveries.createRuns([run])));
  await base.queue.send(
    runs.map((r) => ({ runId: r.id, event: { type: "run.created" }, dedupKey: `created:${r.id}` })),
  );

  let finished = 0;
  await Promise.all(
    Array.from({ length: POLLERS }, async () => {
      for (let idle = 0; finished < RUNS && idle < 200; ) {
        const { received } = await pollOnce(base.queue, handler, { waitSeconds: 0 });
        idle = received === 0 ? idle + 1 : 0;
        if (received === 0) await new Promise((r) => setTimeout(r, 10));
        await Promise.all(inflight);
        finished = (await base.stores.runs.activeRuns()).length === 0 ? RUNS : finished;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const done = await Promise.all(runs.map((r) => base.stores.runs.getRun(r.id)));
  const succeeded = done.filter((r) => r?.status === "succeeded").length;
  if (done.some((r) => !r || !isTerminalRun(r.status))) throw new Error("some runs did not finish");
  counter.counts.set("DynamoDB.GetItem", (counter.counts.get("DynamoDB.GetItem") ?? 0) - RUNS); // the check above

  const tasks = RUNS * TASKS_PER_RUN;
  const c = (name: string) => counter.counts.get(name) ?? 0;
  const activeQueries = c("DynamoDB.Query");
  const itemBytes = Buffer.byteLength(JSON.stringify(done[0]));
  const writeUnits = Math.ceil(itemBytes / 1024);
  const readUnits = Math.ceil(itemBytes / 4096);
  const dynamoWrites = c("DynamoDB.PutItem") + c("DynamoDB.UpdateItem");
  const dynamoReads = c("DynamoDB.GetItem");
  const sqsRequests = counter.total("SQS");
  const s3Puts = c("S3.PutObject");
  const s3Gets = counter.total("S3") - s3Puts;

  // The least this design can do. DynamoDB, per task: the write that records it submitted and the write that
  // records it finished, each after reading the run (4 requests); per run: the webhook's write. SQS, per run:
  // one message to start it and one per later stage (3 here), each sent and deleted, received 10 at a time.
  const minimum = { dynamo: 4 + 1 / TASKS_PER_RUN, sqs: (3 * 2.1) / TASKS_PER_RUN };
  const measured = { dynamo: counter.total("DynamoDB") / tasks, sqs: sqsRequests / tasks };

  console.log(
    `pipeline-throughput: ${RUNS} runs × ${TASKS_PER_RUN} tasks (1 → 3 parallel → 1), instant runner${RUNNING_REPORTS ? " reporting running, then succeeded" : ""}, ${POLLERS} scheduler pollers, callbacks in-process`,
  );
  console.log(
    `${succeeded}/${RUNS} runs succeeded in ${(elapsed / 1000).toFixed(1)} s: ${((RUNS / elapsed) * 1000).toFixed(1)} runs per second`,
  );
  console.log(
    table([
      {
        "per task": "DynamoDB requests",
        hookflow: measured.dynamo,
        "design minimum": minimum.dynamo,
        ratio: measured.dynamo / minimum.dynamo,
      },
      {
        "per task": "SQS requests",
        hookflow: measured.sqs,
        "design minimum": minimum.sqs,
        ratio: measured.sqs / minimum.sqs,
      },
    ]),
  );
  console.log(
    table([
      {
        "per task": "log archive (S3)",
        PUT: s3Puts / tasks,
        "GET (index look-ups)": s3Gets / tasks,
        "bytes stored": Math.round(counter.putBytes / tasks),
      },
    ]),
  );
  console.log(
    `requests by kind: ${JSON.stringify(Object.fromEntries([...counter.counts].sort()))} (reconciler queries: ${activeQueries})`,
  );

  // us-east-1 on-demand, published 2026: DynamoDB $0.625 per million write request units (1 KB each) and
  // $0.125 per million read request units (4 KB strongly consistent); SQS FIFO $0.50 per million requests (64 KB).
  const perThousandRuns = 1000 / RUNS;
  const dynamoCost =
    ((dynamoWrites * writeUnits * 0.625 + dynamoReads * readUnits * 0.125 + activeQueries * 0.125) / 1e6) *
    perThousandRuns;
  const sqsCost = ((sqsRequests * 0.5) / 1e6) * perThousandRuns;
  // S3 Standard, us-east-1, published 2026: $0.005 per 1,000 PUT requests, $0.0004 per 1,000 GET requests,
  // $0.023 per GB-month stored (a month of the bytes counted; the default retention keeps them 90 days).
  const s3Cost =
    ((s3Puts * 0.005) / 1000 + (s3Gets * 0.0004) / 1000 + (counter.putBytes / 1e9) * 0.023) * perThousandRuns;
  console.log(
    table([
      {
        "per 1,000 runs": "DynamoDB",
        requests: counter.total("DynamoDB") * perThousandRuns,
        "units each": `${writeUnits} WRU / ${readUnits} RRU (item ${itemBytes} B)`,
        USD: dynamoCost.toFixed(4),
      },
      {
        "per 1,000 runs": "SQS FIFO",
        requests: sqsRequests * perThousandRuns,
        "units each": "1",
        USD: sqsCost.toFixed(4),
      },
      {
        "per 1,000 runs": "S3 Standard (log archive)",
        requests: counter.total("S3") * perThousandRuns,
        "units each": `${Math.round((counter.putBytes * perThousandRuns) / 1024)} KiB stored`,
        USD: s3Cost.toFixed(4),
      },
      {
        "per 1,000 runs": "total",
        requests: counter.total() * perThousandRuns,
        "units each": "",
        USD: (dynamoCost + sqsCost + s3Cost).toFixed(4),
      },
    ]),
  );
  console.log(
    "prices: us-east-1 on demand, DynamoDB $0.625 per million WRU and $0.125 per million RRU, SQS FIFO $0.50 per million requests, S3 Standard $0.005 per 1,000 PUT, $0.0004 per 1,000 GET, $0.023 per GB-month (one month of storage counted); Lambda not included. Each log part is 1 MiB before gzip: a larger log adds one PUT per MiB",
  );
  console.log(
    `pipeline-throughput ratio: ${((measured.dynamo + measured.sqs) / (minimum.dynamo + minimum.sqs)).toFixed(2)}`,
  );
} finally {
  await emulators.stop();
}
