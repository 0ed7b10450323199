/**
 * wide-stage: what one run item costs when many tasks finish at once. Runs of a 1 → WIDTH parallel → 1 pipeline
 * through the real scheduler handler and callback app on the emulators; every task of a stage reports success
 * at the same moment (the runner holds the callbacks until the whole stage is submitted, then sends them all
 * together; when some of its tasks wait for room, since a pipeline's `maxRunningTasks` counts across its runs,
 * those submitted report together once the scheduler is quiet: a Job ends whether or not its siblings got a slot,
 * and holding them all would leave every slot held by a Job waiting for its siblings). Quiet with nothing held, it
 * runs the reconciler's tick as deployed. The same harness runs the 5-task pipeline (1 → 3 → 1) as the reference.
 * Prints, per task: DynamoDB requests, version conflicts (conditional writes that lost), callbacks refused; per
 * write: the item's size and the write units DynamoDB reports (table and indexes); whether every run finished
 * exactly once; and how often the reconciler's repair had to act (slots given back, runs woken).
 *
 * docs/decisions.md reads its figures from this script (storage layout).
 */
import { randomBytes } from "node:crypto";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { runItem } from "../core/adapters/dynamo/run-items.js";
import { callbackTaskId, createRun } from "../core/engine/index.js";
import { LIMITS, Pipeline, type Run, type TaskLaunch } from "../core/model/index.js";
import { callbackDeps, schedulerDeps, taskSlots } from "../core/wiring.js";
import { createCallbackApp } from "../functions/callback.js";
import { createReconcilerHandler } from "../functions/reconciler.js";
import { createSchedulerHandler } from "../functions/scheduler.js";
import { pollOnce } from "../infra/local/queue-poller.js";
import { MemoryRunner } from "../test/helpers/memory-runner.js";
import { benchSystem, type Emulators, startEmulators, table } from "./common.js";

/** A pipeline holds at most LIMITS.tasksPerPipeline tasks (core/model/limits.ts): the widest middle stage is that less two. */
const WIDTH = Number(process.env.BENCH_WIDTH ?? LIMITS.tasksPerPipeline - 2);
const WIDE_RUNS = Number(process.env.BENCH_WIDE_RUNS ?? 3);
const NARROW_RUNS = Number(process.env.BENCH_NARROW_RUNS ?? 60);
const POLLERS = Number(process.env.BENCH_POLLERS ?? 6);

function pipelineOf(width: number): Pipeline {
  const task = (name: string) => ({ name, run: { image: "alpine", command: ["true"] } });
  return Pipeline.parse({
    name: `wide-${width}`,
    // The whole stage at once: the default of 10 running tasks would hold back the moment this measures.
    maxRunningTasks: width + 2,
    stages: [
      { name: "build", tasks: [task("compile")] },
      {
        name: "test",
        parallel: true,
        tasks: Array.from({ length: width }, (_, i) => task(`shard-${i}`)),
      },
      { name: "ship", tasks: [task("deploy")] },
    ],
  });
}

/** Counts what the DynamoDB client does: conflicts (a conditional write that lost) and write units. */
function measureWrites(client: { middlewareStack: { add(middleware: never, options: never): void } }) {
  const figures = { conflicts: 0, writes: 0, writeUnits: 0, tableWriteUnits: 0 };
  type Next = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
  type Context = { commandName?: string };
  client.middlewareStack.add(
    ((next: Next, context: Context) => async (args: { input: Record<string, unknown> }) => {
      const write = context.commandName === "PutItemCommand" || context.commandName === "UpdateItemCommand";
      if (write) args.input.ReturnConsumedCapacity = "INDEXES";
      try {
        const result = await next(args);
        const consumed = result.output.ConsumedCapacity as
          | { CapacityUnits?: number; Table?: { CapacityUnits?: number } }
          | undefined;
        if (write) {
          figures.writes++;
          figures.writeUnits += consumed?.CapacityUnits ?? 0;
          figures.tableWriteUnits += consumed?.Table?.CapacityUnits ?? consumed?.CapacityUnits ?? 0;
        }
        return result;
      } catch (error) {
        if ((error as Error).name === "ConditionalCheckFailedException") figures.conflicts++;
        throw error;
      }
    }) as never,
    { step: "initialize", name: "wideStageWrites" } as never,
  );
  return figures;
}

interface Scenario {
  label: string;
  width: number;
  runs: number;
}

async function measure(emulators: Emulators, scenario: Scenario) {
  const pipeline = pipelineOf(scenario.width);
  const tasksPerRun = scenario.width + 2;
  const stageOf = new Map(pipeline.stages.flatMap((s, i) => s.tasks.map((t) => [t.name, i] as const)));
  const stageWidth = pipeline.stages.map((s) => s.tasks.length);
  const runner = new MemoryRunner();
  const { base, counter, clients } = await benchSystem(emulators, `bench-wide-${scenario.width}`, {
    runner,
  });
  const writes = measureWrites(clients.dynamoClient);
  const scheduling = await schedulerDeps(base, { runner });
  const handler = createSchedulerHandler(scheduling);
  const callbacks = createCallbackApp(callbackDeps(base));
  const tokens = callbackDeps(base).tokens;

  const refused = new Map<number, number>();
  const inflight = new Set<Promise<void>>();
  const held = new Map<string, TaskLaunch[]>();
  const callback = async (launch: TaskLaunch) => {
    // The Job has ended, whatever the callback's fate: a reconcile that observes it sees the same success.
    runner.set(launch.jobName, { state: "succeeded" });
    const res = await callbacks.request(
      `/callbacks/tasks/${callbackTaskId(launch.runId, launch.task, launch.attempt)}`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${tokens.tokenFor(launch)}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ status: "succeeded" }),
      },
    );
    if (res.status !== 200) refused.set(res.status, (refused.get(res.status) ?? 0) + 1);
  };
  const report = (launches: TaskLaunch[]) => {
    const reported = Promise.all(launches.map(callback)).then(() => undefined);
    inflight.add(reported);
    void reported.finally(() => inflight.delete(reported));
  };
  runner.onSubmit = (launch) => {
    const stage = stageOf.get(launch.task) as number;
    const key = `${launch.runId}/${stage}`;
    const waiting = [...(held.get(key) ?? []), launch];
    held.set(key, waiting);
    if (waiting.length < (stageWidth[stage] as number)) return;
    held.delete(key);
    // The whole stage is submitted: every task reports at the same moment.
    report(waiting);
  };

  // The reconciler's tick as deployed (functions/reconciler.ts: a reconcile message per unfinished run, then the
  // slots' repair), on a clock one period further each tick: each tick's messages are its own, as a minute later.
  let reconciles = 0;
  const tickClock = { now: () => new Date(Date.now() + reconciles * 60_000).toISOString() };
  const slots = taskSlots({ ...base, clock: tickClock });
  const repair = { acted: 0, released: 0, woken: 0 };
  const reconciler = createReconcilerHandler({
    runs: base.stores.runs,
    queue: base.queue,
    clock: tickClock,
    log: base.log,
    slots: {
      repair: async () => {
        const repaired = await slots.repair();
        if (repaired.released + repaired.woken > 0) repair.acted++;
        repair.released += repaired.released;
        repair.woken += repaired.woken;
        return repaired;
      },
    },
  });
  /** The requests of the reconciler's ticks, not the product's per task (the pollers are quiet meanwhile). */
  const tickRequests = new Map<string, number>();

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
  const now = new Date().toISOString();
  const runs = Array.from({ length: scenario.runs }, () =>
    createRun({
      id: randomBytes(10).toString("hex"),
      pipeline,
      jobs: {},
      trigger: { ...trigger, commit: randomBytes(20).toString("hex") },
      now,
    }),
  );
  counter.reset();
  Object.assign(writes, { conflicts: 0, writes: 0, writeUnits: 0, tableWriteUnits: 0 });
  const started = performance.now();
  await Promise.all(runs.map((run) => base.stores.deliveries.createRuns([run])));
  await base.queue.send(
    runs.map((r) => ({ runId: r.id, event: { type: "run.created" }, dedupKey: `created:${r.id}` })),
  );

  let flushes = 0;
  let done = false;
  // Quiet means no poller handling a batch either: a long one holds its runs' messages out of sight meanwhile.
  let handling = 0;
  let ticking = false;
  let quiet = 0;
  const counted: typeof handler = async (event) => {
    handling++;
    try {
      return await handler(event);
    } finally {
      handling--;
    }
  };
  await Promise.all(
    Array.from({ length: POLLERS }, async () => {
      while (!done) {
        if (ticking) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const { received } = await pollOnce(base.queue, counted, { waitSeconds: 0 });
        if (received > 0 || inflight.size > 0) {
          quiet = 0;
          await Promise.all(inflight);
          continue;
        }
        await new Promise((r) => setTimeout(r, 20));
        // Quiet: no poller received or handled anything, and no callback was in flight, for a while.
        if (handling > 0) quiet = 0;
        quiet++;
        if (held.size > 0 && quiet >= POLLERS) {
          // Jobs whose stage's other tasks wait for room: they end now, together.
          quiet = 0;
          flushes++;
          report([...held.values()].flat());
          held.clear();
          continue;
        }
        if (quiet < 25 * POLLERS || ticking) continue;
        quiet = 0;
        // The reconciler's tick (a refused callback is then seen by observing); the pollers wait meanwhile, so
        // that the requests it makes are told apart.
        ticking = true;
        reconciles++;
        const before = new Map(counter.counts);
        done = (await reconciler()).reconciled === 0;
        for (const [name, count] of counter.counts)
          tickRequests.set(name, (tickRequests.get(name) ?? 0) + count - (before.get(name) ?? 0));
        ticking = false;
      }
    }),
  );
  const elapsedMs = performance.now() - started;

  const finished = await Promise.all(runs.map((r) => base.stores.runs.getRun(r.id)));
  const succeeded = finished.filter((r) => r?.status === "succeeded").length;
  const onceEach = finished.every((r) =>
    r?.stages.every((s) => s.tasks.every((t) => t.status === "succeeded" && t.attempt === 1)),
  );
  const jobsCreated = runner.jobs.size;
  const tasks = scenario.runs * tasksPerRun;
  // Not the product's per task: the reads above (one Query each), and the reconciler's ticks.
  counter.counts.set("DynamoDB.Query", (counter.counts.get("DynamoDB.Query") ?? 0) - scenario.runs);
  for (const [name, count] of tickRequests) counter.counts.set(name, (counter.counts.get(name) ?? 0) - count);
  const dynamo = counter.total("DynamoDB");
  const c = (name: string) => counter.counts.get(name) ?? 0;
  return {
    scenario,
    tasks,
    elapsedMs,
    succeeded,
    onceEach: onceEach && jobsCreated === tasks,
    reconciles,
    repair,
    flushes,
    perTask: {
      dynamo: dynamo / tasks,
      reads: (c("DynamoDB.GetItem") + c("DynamoDB.Query")) / tasks,
      writes: (c("DynamoDB.PutItem") + c("DynamoDB.UpdateItem")) / tasks,
      conflicts: writes.conflicts / tasks,
      refused: [...refused.values()].reduce((a, b) => a + b, 0) / tasks,
      sqs: counter.total("SQS") / tasks,
    },
    refused: Object.fromEntries(refused),
    perWrite: {
      units: writes.writes ? writes.writeUnits / writes.writes : 0,
      tableUnits: writes.writes ? writes.tableWriteUnits / writes.writes : 0,
    },
    layout: layoutOf(finished[0] as Run),
  };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/**
 * What the alternatives would write, from a finished run as stored today: the whole item compressed (gzip,
 * brotli), or split into an immutable spec written once (definition, job templates, params, variables, trigger),
 * a small head (status, stages' names, outbox) and one item per task attempt.
 */
function layoutOf(run: Run) {
  const { definition, jobs, params, variables, trigger, stages, ...rest } = run;
  const tasks = stages.flatMap((s) => s.tasks);
  const head = { ...rest, stages: stages.map((s) => ({ name: s.name, parallel: s.parallel })) };
  const json = Buffer.from(JSON.stringify(run));
  const item = runItem(run);
  return {
    whole: json.length,
    /** The head as stored (its document compressed, with its keys and index attributes). */
    stored: Object.entries(item).reduce(
      (sum, [name, value]) =>
        sum +
        Buffer.byteLength(name) +
        (value.B ? value.B.byteLength : Buffer.byteLength(value.S ?? value.N ?? "")),
      0,
    ),
    gzip: gzipSync(json).length,
    brotli: brotliCompressSync(json).length,
    spec: bytes({ definition, jobs, params, variables, trigger }),
    head: bytes(head),
    task: Math.round(tasks.reduce((sum, t) => sum + bytes(t), 0) / tasks.length),
  };
}

const emulators = await startEmulators();
try {
  const narrow = await measure(emulators, { label: "5 tasks (1 → 3 → 1)", width: 3, runs: NARROW_RUNS });
  const wide = await measure(emulators, {
    label: `${WIDTH + 2} tasks (1 → ${WIDTH} → 1)`,
    width: WIDTH,
    runs: WIDE_RUNS,
  });
  console.log(
    `wide-stage: a run head per run, task reports beside it; every task of a stage reports success at the same moment; ${POLLERS} scheduler pollers, callbacks in-process`,
  );
  const row = (m: typeof narrow) => ({
    pipeline: m.scenario.label,
    runs: `${m.succeeded}/${m.scenario.runs}`,
    "exactly once": m.onceEach ? "yes" : "NO",
    "DynamoDB req/task": m.perTask.dynamo,
    "reads/task": m.perTask.reads,
    "writes/task": m.perTask.writes,
    "conflicts/task": m.perTask.conflicts,
    "callbacks refused/task": m.perTask.refused,
    "SQS req/task": m.perTask.sqs,
    "finished run JSON B": m.layout.whole,
    "head stored B": m.layout.stored,
    "WRU/write (table+indexes)": m.perWrite.units,
    "WRU/write (table)": m.perWrite.tableUnits,
    "s/run": m.elapsedMs / 1000 / m.scenario.runs,
  });
  console.log(table([row(narrow), row(wide)]));
  const units = (b: number) => Math.ceil(b / 1024);
  console.log(
    "what one write of the finished run would cost under each layout (bytes, write units on the table):",
  );
  console.log(
    table(
      [narrow, wide].map((m) => ({
        pipeline: m.scenario.label,
        "one item": `${m.layout.whole} B, ${units(m.layout.whole)} WRU`,
        "one item, gzip": `${m.layout.gzip} B, ${units(m.layout.gzip)} WRU`,
        "one item, brotli": `${m.layout.brotli} B, ${units(m.layout.brotli)} WRU`,
        "split: spec (once)": `${m.layout.spec} B, ${units(m.layout.spec)} WRU`,
        "split: head": `${m.layout.head} B, ${units(m.layout.head)} WRU`,
        "split: task item": `${m.layout.task} B, ${units(m.layout.task)} WRU`,
      })),
    ),
  );
  for (const m of [narrow, wide])
    console.log(
      `${m.scenario.label}: reconciler ticks ${m.reconciles}, the repair acting in ${m.repair.acted} (${m.repair.released} slots given back, ${m.repair.woken} runs woken); stages reported in part (their other tasks waiting for room) ${m.flushes} times`,
    );
  if (Object.keys(wide.refused).length > 0)
    console.log(
      `refused callbacks by status (the task's report is lost; a reconcile observed the Job instead): ${JSON.stringify(wide.refused)}; reconciler ticks: ${wide.reconciles}`,
    );
  const ratio = wide.perTask.dynamo / narrow.perTask.dynamo;
  console.log(
    `DynamoDB requests per task, wide over narrow: ${ratio.toFixed(2)} (issue 20's target: at most 1.5); write units per task, wide over narrow: ${((wide.perTask.writes * wide.perWrite.units) / (narrow.perTask.writes * narrow.perWrite.units)).toFixed(2)}`,
  );
  console.log(`wide-stage ratio: ${ratio.toFixed(2)}`);
  if (!narrow.onceEach || !wide.onceEach || wide.succeeded < WIDE_RUNS || narrow.succeeded < NARROW_RUNS)
    process.exitCode = 1;
} finally {
  await emulators.stop();
}
