/**
 * pipeline-throughput: runs of a 3-stage, 5-task pipeline started by signed GitHub pushes through the webhook
 * app, then driven by the real scheduler handler and callback app on the emulators, with an instant runner whose
 * Jobs call back as soon as they are submitted. Prints runs per second, DynamoDB and SQS requests per task
 * against the minimum the design needs, and the whole bill per 1,000 runs: DynamoDB capacity units as DynamoDB
 * reports them (table and indexes), SQS requests, Lambda invocations and GB-seconds (each handler's measured
 * duration at the memory infra/functions.ts gives it), API Gateway requests; the log archive on its own line.
 * Then the follow-up looks (core/engine/follow-up.ts), which the throughput run leaves out: those the runs
 * themselves cause (counted in the one-at-a-time runs) and what following a running task costs a minute, with and
 * without the relay (bench/follow-ups.ts).
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import { dynamoStores } from "../core/adapters/dynamo/store.js";
import { signGithub } from "../core/adapters/git/index.js";
import { ensureWakeQueue, SqsWakeUps } from "../core/adapters/sqs/wake-ups.js";
import { callbackTaskId, jobNameFor } from "../core/engine/index.js";
import { DEFAULT_TASK_TIMEOUT_SECONDS, isTerminalRun, Pipeline } from "../core/model/index.js";
import { callbackDeps, schedulerDeps, webhookDeps } from "../core/wiring.js";
import { createCallbackApp } from "../functions/callback.js";
import { createSchedulerHandler } from "../functions/scheduler.js";
import { createWakeUpHandler } from "../functions/wake-ups.js";
import { createWebhookApp } from "../functions/webhook.js";
import { FUNCTION_URLS, FUNCTIONS } from "../infra/functions.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../infra/local/emulators.js";
import { pollOnce } from "../infra/local/queue-poller.js";
import { MemoryRunner } from "../test/helpers/memory-runner.js";
import { benchSystem, githubPushBody, startEmulators, table } from "./common.js";
import {
  countRequestsTo,
  denseLooks,
  difference,
  drainLooks,
  drainWork,
  type Looks,
  measureLooks,
  NOTHING,
  priced,
  sum,
  TAIL_LOOKS_PER_MINUTE,
  used,
} from "./follow-ups.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 500);
const POLLERS = Number(process.env.BENCH_POLLERS ?? 6);
/** With 1, every Job also reports `running` before it succeeds (queued → running → succeeded). */
const RUNNING_REPORTS = process.env.BENCH_RUNNING_REPORTS === "1";
/** The log size the archive line is priced at, per task (bytes stored, after gzip). */
const LOG_BYTES_PER_TASK = Number(process.env.BENCH_LOG_BYTES ?? 100 * 1024);
/** Runs handled one invocation at a time after the throughput run, to measure each handler's duration alone. */
const SERIAL_RUNS = Number(process.env.BENCH_SERIAL_RUNS ?? 20);
const TASKS_PER_RUN = 5;
const STAGES = 3;
const SECRET = "bench-github-secret";
const RELAY_TOKEN = "bench-relay-token-0123456789";
/** How long each task runs in the follow-ups' pricing: the minutes real tasks take, which instant ones hide. */
const TASK_MINUTES = Number(process.env.BENCH_TASK_MINUTES ?? 2);
/**
 * The pipeline's running tasks across its runs (maxRunningTasks): by default as many as the product allows, so
 * the benchmark measures the control plane rather than the limit; BENCH_MAX_RUNNING_TASKS=10 shows the default.
 */
const MAX_RUNNING_TASKS = Number(process.env.BENCH_MAX_RUNNING_TASKS ?? 100);
/**
 * The runs are spread over this many pipelines of that shape (one repository each), so that a burst of 100 runs
 * wants at most 4 × 25 slots of each pipeline's 100; BENCH_PIPELINES=1 measures them waiting for room.
 */
const PIPELINES = Number(process.env.BENCH_PIPELINES ?? 4);

const pipelineOf = (i: number) =>
  Pipeline.parse({
    name: `three-stages-${i}`,
    maxRunningTasks: MAX_RUNNING_TASKS,
    triggers: [{ provider: "github", repository: `acme/app${i}`, branches: ["main"] }],
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
const pipelines = Array.from({ length: PIPELINES }, (_, i) => pipelineOf(i));

function push(i: number): string {
  return githubPushBody(`acme/app${i % PIPELINES}`, i, { added: [], modified: ["src/index.ts"] });
}

/** DynamoDB's own account of what each request consumed (ReturnConsumedCapacity: INDEXES), table and indexes. */
function measureCapacity(client: { middlewareStack: { add(middleware: never, options: never): void } }) {
  const units = {
    read: 0,
    write: 0,
    tableWrite: 0,
    writes: 0,
    /** Write units by index, and by request kind (which tells the task slots' transactions apart). */
    byIndex: {} as Record<string, number>,
    byCommand: {} as Record<string, number>,
  };
  const add = (to: Record<string, number>, name: string, value: number) => {
    to[name] = (to[name] ?? 0) + value;
  };
  type Args = { input: Record<string, unknown> };
  type Next = (args: Args) => Promise<{ output: Record<string, unknown> }>;
  type Consumed = {
    CapacityUnits?: number;
    ReadCapacityUnits?: number;
    WriteCapacityUnits?: number;
    Table?: { CapacityUnits?: number };
    GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
  };
  client.middlewareStack.add(
    ((next: Next, context: { commandName?: string }) => async (args: Args) => {
      args.input.ReturnConsumedCapacity = "INDEXES";
      // A transaction is a write too, at twice the units of each item (DynamoDB Local reports them so).
      const write = /^((Put|Update|Delete)Item|TransactWriteItems)/.test(context.commandName ?? "");
      // Batch and transaction requests report a list, one entry per table.
      const count = (reported: Consumed | Consumed[] | undefined) => {
        if (!reported) return;
        for (const consumed of Array.isArray(reported) ? reported : [reported]) {
          if (write) {
            units.write += consumed.CapacityUnits ?? 0;
            units.tableWrite += consumed.Table?.CapacityUnits ?? consumed.CapacityUnits ?? 0;
            add(units.byCommand, context.commandName ?? "?", consumed.CapacityUnits ?? 0);
            for (const [index, used] of Object.entries(consumed.GlobalSecondaryIndexes ?? {}))
              add(units.byIndex, index, used.CapacityUnits ?? 0);
          } else units.read += consumed.CapacityUnits ?? 0;
        }
        if (write) units.writes++;
      };
      try {
        const result = await next(args);
        count(result.output.ConsumedCapacity as Consumed | Consumed[] | undefined);
        return result;
      } catch (error) {
        // A refused conditional write still consumes the write units of the item it would have written.
        count((error as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity);
        throw error;
      }
    }) as never,
    { step: "initialize", name: "benchCapacity" } as never,
  );
  return units;
}

/** Each handler's invocations and the milliseconds they took, as Lambda would bill them (rounded up to 1 ms). */
class Invocations {
  readonly byFunction = new Map<string, { count: number; ms: number }>();
  async time<T>(name: string, work: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      const entry = this.byFunction.get(name) ?? { count: 0, ms: 0 };
      entry.count++;
      entry.ms += Math.ceil(performance.now() - t0);
      this.byFunction.set(name, entry);
    }
  }
}

const emulators = await startEmulators();
try {
  const runner = new MemoryRunner();
  const wakeUrl = await ensureWakeQueue(
    new SQSClient({ endpoint: emulators.sqs.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    "bench-pipeline-wake",
    { visibilityTimeoutSeconds: 60 },
  );
  const { base, counter, clients, dynamo, sqs, config } = await benchSystem(
    emulators,
    "bench-pipeline",
    { runner },
    { HOOKFLOW_RELAY_TOKEN: RELAY_TOKEN },
  );
  // The throughput run has no follow-ups (its requests per task are the design's); the one-at-a-time runs and
  // the looks measured at the end have them, through a scheduler that asks for wake-ups.
  const wakeUps = new SqsWakeUps(clients.sqsClient, wakeUrl, base.clock);
  const wakeRequests = countRequestsTo(clients.sqsClient, wakeUrl);
  // The bench's own reads (set-up, progress, the final check) go through a client of their own, never counted.
  const probe = dynamoStores({ client: dynamo, table: config.HOOKFLOW_TABLE });
  for (const pipeline of pipelines) await probe.definitions.putPipeline(pipeline, new Date().toISOString());
  const capacity = measureCapacity(clients.dynamoClient);
  // Invocations while runs overlap (they share one process, so their durations include each other's waits), and
  // alone (one at a time, as each Lambda invocation runs in its own environment): the bill uses the latter.
  const overlapped = new Invocations();
  const alone = new Invocations();
  let lambda = overlapped;
  let serial = false;
  const deferred: Array<() => Promise<void>> = [];
  const scheduling = await schedulerDeps(base, { runner, s3Client: clients.s3Client });
  const scheduler = createSchedulerHandler(scheduling);
  const handler: typeof scheduler = (event) => lambda.time("scheduler", () => scheduler(event));
  const following = createSchedulerHandler(
    await schedulerDeps({ ...base, wakeUps }, { runner, s3Client: clients.s3Client }),
  );
  const wakeHandler = createWakeUpHandler({
    queue: base.queue,
    wakeUps,
    runs: base.stores.runs,
    clock: base.clock,
    log: base.log,
  });
  const looks: Looks = {
    work: base.queue,
    wakeUps,
    sqs,
    scheduler: (event) => lambda.time("schedulerLook", () => following(event)),
    wakeUpHandler: (event) => lambda.time("wakeUps", () => wakeHandler(event)),
    idle: { standard: 0, fifo: 0 },
    totals: () => {
      const timed = (name: string) => lambda.byFunction.get(name) ?? { count: 0, ms: 0 };
      return {
        sqsStandard: wakeRequests.requests,
        sqsFifo: counter.total("SQS") - wakeRequests.requests,
        dynamo: counter.total("DynamoDB"),
        rru: capacity.read,
        wru: capacity.write,
        wakeUps: timed("wakeUps").count,
        wakeUpMs: timed("wakeUps").ms,
        schedulerLooks: timed("schedulerLook").count,
        schedulerLookMs: timed("schedulerLook").ms,
      };
    },
  };
  const callbacks = createCallbackApp(callbackDeps(base));
  const webhooks = createWebhookApp(webhookDeps(base));
  const tokens = callbackDeps(base).tokens;

  // The instant runner: every submitted Job reports success through its callback right away.
  const inflight = new Set<Promise<void>>();
  runner.onSubmit = (launch) => {
    const callback = async (body: object) => {
      const res = await lambda.time("callback", () =>
        callbacks.request(`/callbacks/tasks/${callbackTaskId(launch.runId, launch.task, launch.attempt)}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${tokens.tokenFor(launch)}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
        }),
      );
      if (res.status !== 200) throw new Error(`callback ${res.status}: ${await res.text()}`);
    };
    const reportAll = async () => {
      if (RUNNING_REPORTS) await callback({ status: "running" });
      // Its container has exited by the time its report is handled, so its log is complete and is archived.
      runner.set(launch.jobName, { state: "succeeded" });
      await callback({ status: "succeeded", outputs: { [`${launch.task.toUpperCase()}_DONE`]: "1" } });
    };
    if (serial) {
      deferred.push(reportAll);
      return;
    }
    const report = reportAll();
    inflight.add(report);
    void report.finally(() => inflight.delete(report));
  };

  counter.reset();
  const started = performance.now();
  // Each run starts from a signed push, as on AWS: the webhook verifies it, claims its body, writes the run and
  // sends its first message.
  const runIds: string[] = [];
  const deliver = async (i: number) => {
    const body = push(i);
    const res = await lambda.time("webhook", () =>
      webhooks.request("/webhooks/github", {
        method: "POST",
        headers: {
          "x-github-event": "push",
          "x-github-delivery": `bench-${i}`,
          "x-hub-signature-256": signGithub(body, SECRET),
          "content-type": "application/json",
        },
        body,
      }),
    );
    if (res.status !== 202) throw new Error(`webhook ${res.status}: ${await res.text()}`);
    const { runs } = (await res.json()) as { runs: Array<{ id: string }> };
    return runs.map((r) => r.id);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < RUNS; i = next++) runIds.push(...(await deliver(i)));
    }),
  );

  let finished = false;
  let emptyReceives = 0;
  await Promise.all(
    Array.from({ length: POLLERS }, async () => {
      for (let idle = 0; !finished && idle < 200; ) {
        const { received } = await pollOnce(base.queue, handler, { waitSeconds: 0 });
        idle = received === 0 ? idle + 1 : 0;
        if (received === 0) {
          emptyReceives++;
          await new Promise((r) => setTimeout(r, 10));
        }
        await Promise.all(inflight);
        if (received === 0) finished = (await probe.runs.activeRuns()).length === 0;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const done = await Promise.all(runIds.map((id) => probe.runs.getRun(id)));
  const succeeded = done.filter((r) => r?.status === "succeeded").length;
  if (runIds.length !== RUNS || done.some((r) => !r || !isTerminalRun(r.status)))
    throw new Error("some runs did not finish");

  const tasks = RUNS * TASKS_PER_RUN;
  const measuredCounts = new Map(counter.counts);
  const measuredCapacity = structuredClone(capacity);

  // The same pipeline again, one invocation at a time: each handler's duration alone; now with the follow-up
  // looks each stage's submission asks for, which come due after the instant run ended (counted apart).
  lambda = alone;
  serial = true;
  const followingAlone: typeof scheduler = (event) => lambda.time("scheduler", () => following(event));
  let runLooks = NOTHING;
  let runLookCount = 0;
  for (let i = 0; i < SERIAL_RUNS; i++) {
    const sent = wakeRequests.requests;
    await deliver(RUNS + i);
    for (let quiet = 0; quiet < 3; ) {
      const { received } = await pollOnce(base.queue, followingAlone, { waitSeconds: 0, max: 1 });
      quiet = received === 0 && deferred.length === 0 ? quiet + 1 : 0;
      for (let work = deferred.shift(); work; work = deferred.shift()) await work();
    }
    // The wake-ups the run's messages sent, then the looks they make once due.
    const before = { ...used(looks), sqsStandard: used(looks).sqsStandard - (wakeRequests.requests - sent) };
    runLookCount += await drainLooks(looks);
    runLooks = sum(runLooks, difference(before, used(looks)));
  }
  // Following a task that runs: its looks one at a time, without the relay and with it (bench/follow-ups.ts).
  let extraRuns = RUNS + SERIAL_RUNS;
  const followUps = await measureLooks({
    ...looks,
    runner,
    start: () => deliver(extraRuns++),
    relayRunning: async (launch) => {
      const res = await callbacks.request("/callbacks/relay", {
        method: "POST",
        headers: { authorization: `Bearer ${RELAY_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          jobName: jobNameFor(launch.runId, launch.task, launch.attempt),
          runId: launch.runId,
          task: launch.task,
          attempt: launch.attempt,
          observation: { state: "running" },
        }),
      });
      if (res.status !== 200) throw new Error(`relay report ${res.status}: ${await res.text()}`);
    },
  });
  await drainWork(looks);
  counter.counts.clear();
  for (const [name, count] of measuredCounts) counter.counts.set(name, count);
  Object.assign(capacity, measuredCapacity);
  const c = (name: string) => counter.counts.get(name) ?? 0;
  const sqsRequests = counter.total("SQS") - emptyReceives;
  const s3Puts = c("S3.PutObject");
  const s3Gets = counter.total("S3") - s3Puts;

  // The least this design can do (docs/decisions.md, 1). DynamoDB, per run: the webhook claims the body and
  // writes the run's spec and head (3); the first message loads the run, saves it started and records the first
  // submission (3). Per task and report: the callback reads the run and writes its report (2). Per stage:
  // one fold of its reports (a load, a save that plans the next stage, a save of what carrying that out left:
  // submissions and archived logs) (3). Per stage, its tasks' running-task slots taken in one conditional update of
  // the pipeline's slot counter and given back in one (2; no transaction while nobody waits). SQS, per run: the
  // webhook's message; per report one owed message; each sent, then received and deleted 10 at a time (the event
  // source mapping deletes a handled batch together). A `running` report is read and written too, but owes no fold
  // and no message (core/services/commands.ts, needsFold).
  const reports = RUNNING_REPORTS ? 2 : 1;
  const minimum = {
    dynamo: (3 + 3 + 2 * reports * TASKS_PER_RUN + 3 * STAGES + 2 * STAGES) / TASKS_PER_RUN,
    sqs: ((1 + TASKS_PER_RUN) * 1.2) / TASKS_PER_RUN,
  };
  const measured = { dynamo: counter.total("DynamoDB") / tasks, sqs: sqsRequests / tasks };

  console.log(
    `pipeline-throughput: ${RUNS} runs × ${TASKS_PER_RUN} tasks (1 → 3 parallel → 1) started by signed pushes, instant runner${RUNNING_REPORTS ? " reporting running, then succeeded" : ""}, ${POLLERS} scheduler pollers, callbacks in-process`,
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
    `requests by kind: ${JSON.stringify(Object.fromEntries([...counter.counts].sort()))} (of the receives, ${emptyReceives} found the queue empty: not counted per run)`,
  );
  const perTask = (units: Record<string, number>) =>
    Object.entries(units)
      .sort()
      .map(([name, used]) => `${name.replace(/Command$/, "")} ${(used / tasks).toFixed(2)}`)
      .join(", ");
  console.log(
    `DynamoDB write units per task by index: ${perTask(capacity.byIndex)}; by request: ${perTask(capacity.byCommand)}`,
  );
  console.log(
    `DynamoDB capacity: ${(capacity.write / tasks).toFixed(2)} WRU per task (${(capacity.write / capacity.writes).toFixed(2)} per write with indexes, ${(capacity.tableWrite / capacity.writes).toFixed(2)} on the table alone), ${(capacity.read / tasks).toFixed(2)} RRU per task`,
  );

  // us-east-1, on demand, published prices as of 2026-12:
  const PRICE = {
    wru: 0.625 / 1e6, // DynamoDB, per write request unit (1 KB; each index written counts its own)
    rru: 0.125 / 1e6, // DynamoDB, per read request unit (4 KB strongly consistent)
    sqsFifo: 0.5 / 1e6, // SQS FIFO, per request (64 KB chunk)
    sqsStandard: 0.4 / 1e6, // SQS standard (the wake-up queue), per request
    lambdaRequest: 0.2 / 1e6, // Lambda, per invocation
    lambdaGbSecond: 0.0000133334, // Lambda on arm64 (infra/sst/hookflow.ts), per GB-second
    httpApi: 1.0 / 1e6, // API Gateway HTTP API, per request (first 300 million a month)
    functionUrl: 0, // a Lambda function URL, per request: nothing beyond the invocation
    s3Put: 0.005 / 1000, // S3 Standard, per PUT
    s3Get: 0.0004 / 1000, // S3 Standard, per GET
    s3GbMonth: 0.023, // S3 Standard, per GB-month
  };
  const perThousand = 1000 / RUNS;
  const memoryGb = {
    webhook: FUNCTIONS.webhook.memoryMb / 1024,
    callback: FUNCTIONS.callback.memoryMb / 1024,
    scheduler: FUNCTIONS.scheduler.memoryMb / 1024,
  };
  const fn = (name: keyof typeof memoryGb) => overlapped.byFunction.get(name) ?? { count: 0, ms: 0 };
  /** Milliseconds per invocation of `name` when it ran alone. */
  const msAlone = (name: keyof typeof memoryGb) => {
    const entry = alone.byFunction.get(name) ?? { count: 0, ms: 0 };
    return entry.ms / Math.max(entry.count, 1);
  };
  const gbSeconds = (name: keyof typeof memoryGb) =>
    ((fn(name).count * msAlone(name)) / 1000) * memoryGb[name];
  // Git hosts' deliveries and the Jobs' and relay's reports go to their function's own URL where
  // infra/functions.ts gives it one (SST deploys them so), else through API Gateway.
  const viaApiGateway = (["webhook", "callback"] as const).filter((name) => !(name in FUNCTION_URLS));
  const callbackRequestPrice = viaApiGateway.includes("callback") ? PRICE.httpApi : PRICE.functionUrl;
  const httpRequests = viaApiGateway.reduce((sum, name) => sum + fn(name).count, 0);
  const lookPrices = {
    sqsStandard: PRICE.sqsStandard,
    sqsFifo: PRICE.sqsFifo,
    rru: PRICE.rru,
    wru: PRICE.wru,
    lambdaRequest: PRICE.lambdaRequest,
    lambdaGbSecond: PRICE.lambdaGbSecond,
    wakeUpGb: FUNCTIONS.wakeUps.memoryMb / 1024,
    schedulerGb: FUNCTIONS.scheduler.memoryMb / 1024,
  };
  const rows: Array<{ line: string; quantity: string; usd: number }> = [
    {
      line: "DynamoDB",
      quantity: `${Math.round(capacity.write * perThousand)} WRU, ${Math.round(capacity.read * perThousand)} RRU (${Math.round(counter.total("DynamoDB") * perThousand)} requests)`,
      usd: (capacity.write * PRICE.wru + capacity.read * PRICE.rru) * perThousand,
    },
    {
      line: "SQS FIFO",
      quantity: `${Math.round(sqsRequests * perThousand)} requests`,
      usd: sqsRequests * PRICE.sqsFifo * perThousand,
    },
    ...(["webhook", "callback", "scheduler"] as const).map((name) => ({
      line: `Lambda ${name} (${FUNCTIONS[name].memoryMb} MB)`,
      quantity: `${Math.round(fn(name).count * perThousand)} invocations, ${msAlone(name).toFixed(1)} ms each alone (${(fn(name).ms / Math.max(fn(name).count, 1)).toFixed(0)} overlapped), ${(gbSeconds(name) * perThousand).toFixed(1)} GB-s`,
      usd: (fn(name).count * PRICE.lambdaRequest + gbSeconds(name) * PRICE.lambdaGbSecond) * perThousand,
    })),
    {
      line: "API Gateway (HTTP API)",
      quantity: `${Math.round(httpRequests * perThousand)} requests`,
      usd: httpRequests * PRICE.httpApi * perThousand,
    },
    ...(["webhook", "callback"] as const)
      .filter((name) => name in FUNCTION_URLS)
      .map((name) => ({
        line: `${name} function URL`,
        quantity: `${Math.round(fn(name).count * perThousand)} requests (${name === "webhook" ? "git hosts' deliveries" : "task callbacks"}), free beyond the invocation`,
        usd: fn(name).count * PRICE.functionUrl * perThousand,
      })),
    {
      // Each stage's submission asks for a look 1 s later (core/engine/follow-up.ts): for these instant runs it
      // comes after the stage, or the run, ended. Counted in the one-at-a-time runs, where runs go at their pace.
      line: "follow-up looks (wake-ups)",
      quantity: `${(runLookCount / SERIAL_RUNS).toFixed(1)} per run: ${Math.round((runLooks.sqsStandard / SERIAL_RUNS) * 1000)} standard and ${Math.round((runLooks.sqsFifo / SERIAL_RUNS) * 1000)} FIFO SQS requests, ${Math.round((runLooks.dynamo / SERIAL_RUNS) * 1000)} DynamoDB requests, ${Math.round(((runLooks.wakeUps + runLooks.schedulerLooks) / SERIAL_RUNS) * 1000)} invocations`,
      usd: (priced(runLooks, lookPrices) / SERIAL_RUNS) * 1000,
    },
  ];
  const controlPlane = rows.reduce((sum, r) => sum + r.usd, 0);
  // With the relay (issue 14), each task's Job is also reported by it: running and how it ended, each a POST to
  // /callbacks/relay (the same function, the same writes as a callback's report). Its end costs what a callback's
  // report costs here, owed message included; its `running` owes no fold (core/services/commands.ts, needsFold),
  // so it is the invocation, the report's read and its write.
  const runningShare =
    (fn("callback").count * (PRICE.lambdaRequest + callbackRequestPrice) +
      gbSeconds("callback") * PRICE.lambdaGbSecond) /
      Math.max(fn("callback").count, 1) +
    (capacity.write / capacity.writes) * PRICE.wru +
    PRICE.rru;
  // the ended report's owed message sent, received and deleted
  const endShare = runningShare + 3 * PRICE.sqsFifo;
  const relay = TASKS_PER_RUN * 1000 * (runningShare + endShare);
  // The log archive, priced at BENCH_LOG_BYTES per task: the PUTs and index look-ups measured, one month stored.
  const archiveGb = (LOG_BYTES_PER_TASK * TASKS_PER_RUN * 1000) / 1024 ** 3;
  const archive = (s3Puts * PRICE.s3Put + s3Gets * PRICE.s3Get) * perThousand + archiveGb * PRICE.s3GbMonth;
  console.log("the whole bill per 1,000 runs (us-east-1, on demand):");
  console.log(
    table([
      ...rows.map((r) => ({ "per 1,000 runs": r.line, quantity: r.quantity, USD: r.usd.toFixed(5) })),
      { "per 1,000 runs": "control plane", quantity: "", USD: controlPlane.toFixed(4) },
      {
        "per 1,000 runs": "with the relay, in addition",
        quantity: `${2 * TASKS_PER_RUN * 1000} reports: each end as a callback's, each running without its fold`,
        USD: relay.toFixed(4),
      },
      {
        "per 1,000 runs": "log archive (S3), apart",
        quantity: `${Math.round((s3Puts + s3Gets) * perThousand)} requests, ${(archiveGb * 1024).toFixed(0)} MiB for a month (${Math.round(LOG_BYTES_PER_TASK / 1024)} KiB a task)`,
        USD: archive.toFixed(4),
      },
    ]),
  );
  console.log(
    `prices: DynamoDB $0.625 per million WRU, $0.125 per million RRU; SQS FIFO $0.50 per million requests, standard $0.40; Lambda $0.20 per million invocations and $0.0000133334 per GB-second (arm64); API Gateway HTTP API $1.00 per million requests, a Lambda function URL $0 beyond the invocation (${Object.keys(FUNCTION_URLS).join(" and ")} requests take their function's URL); S3 Standard $0.005 per 1,000 PUT, $0.0004 per 1,000 GET, $0.023 per GB-month. Handler durations: each handler alone (${SERIAL_RUNS} runs handled one invocation at a time after the throughput run), in-process against the emulators on this machine, billed per started ms. Not per run: the reconciler (one invocation and one Query a minute: 43,200 a month, about $0.01 a month) and Lambda's idle polling of the queue.`,
  );
  console.log(`control plane per 1,000 runs: $${controlPlane.toFixed(4)}`);

  // Following tasks that run minutes up: the looks the instant runs above hide. A look is what one costs measured
  // (bench/follow-ups.ts); the reconciler's tick, which looks at every active run each minute either way, is the
  // same look without the wake-up's hop (its standard SQS requests and the wake-up function).
  const look = followUps.perLook;
  const lookUsd = priced(look, lookPrices);
  // Less the wake-up function's consistent run read too: a steady look's reads are it and the scheduler's, alike.
  const wakeUpRead = { dynamo: 1, rru: look.rru / Math.max(look.dynamo, 1) };
  const tickUsd = priced(
    {
      ...look,
      sqsStandard: 0,
      wakeUps: 0,
      wakeUpMs: 0,
      dynamo: look.dynamo - wakeUpRead.dynamo,
      rru: look.rru - wakeUpRead.rru,
    },
    lookPrices,
  );
  const stageLooks = denseLooks(TASK_MINUTES * 60);
  const runMinutes = STAGES * TASK_MINUTES;
  console.log(
    `follow-ups of a running task: ${followUps.looksMeasured} looks measured one at a time, each ${look.sqsStandard.toFixed(1)} standard SQS requests (wake-up sent, received, deleted), ${look.sqsFifo.toFixed(1)} FIFO (its reconcile sent, received, deleted), ${look.dynamo.toFixed(1)} DynamoDB requests (${look.rru.toFixed(1)} RRU, ${look.wru.toFixed(1)} WRU), a wake-up invocation of ${(look.wakeUpMs / Math.max(look.wakeUps, 1)).toFixed(1)} ms and ${look.schedulerLooks.toFixed(1)} scheduler invocation(s) of ${(look.schedulerLookMs / Math.max(look.schedulerLooks, 1)).toFixed(1)} ms, plus the runner's Kubernetes reads (2-3 per task, not billed): $${(lookUsd * 1e6).toFixed(2)} per million looks. With the relay reporting the Job running at once: ${followUps.relayedLooks} look(s) per stage in all.`,
  );
  const perThousandRuns = (looksPerRun: number, usd: number) => looksPerRun * usd * 1000;
  console.log(
    `follow-ups per 1,000 runs of this pipeline, each task running ${TASK_MINUTES} min (${STAGES} stages one after another, a stage's parallel tasks sharing its looks):`,
  );
  console.log(
    table([
      {
        case: "without the relay (before and after)",
        "looks per task-minute": TAIL_LOOKS_PER_MINUTE,
        "looks per run": STAGES * stageLooks,
        "USD per 1,000 runs": perThousandRuns(STAGES * stageLooks, lookUsd).toFixed(4),
      },
      {
        case: "with the relay, before (looks as without it)",
        "looks per task-minute": TAIL_LOOKS_PER_MINUTE,
        "looks per run": STAGES * stageLooks,
        "USD per 1,000 runs": perThousandRuns(STAGES * stageLooks, lookUsd).toFixed(4),
      },
      {
        case: "with the relay, after (none once it reports the attempt running)",
        "looks per task-minute": 0,
        "looks per run": STAGES * followUps.relayedLooks,
        // As measured: the stage's first wake-up finds the attempt watched and is dropped (no reconcile).
        "USD per 1,000 runs": perThousandRuns(STAGES, priced(followUps.relayed, lookPrices)).toFixed(4),
      },
      {
        case: "the reconciler's tick, either way (a look a run-minute, no wake-up)",
        "looks per task-minute": 1,
        "looks per run": runMinutes,
        "USD per 1,000 runs": perThousandRuns(runMinutes, tickUsd).toFixed(4),
      },
    ]),
  );
  console.log(
    `follow-ups per task-minute without the relay: $${(TAIL_LOOKS_PER_MINUTE * lookUsd * 1000).toFixed(4)} per 1,000 task-minutes; with the relay: 0 (BENCH_TASK_MINUTES sets the task length priced)`,
  );
  console.log(
    `pipeline-throughput ratio: ${((measured.dynamo + measured.sqs) / (minimum.dynamo + minimum.sqs)).toFixed(2)}`,
  );
} finally {
  await emulators.stop();
}
