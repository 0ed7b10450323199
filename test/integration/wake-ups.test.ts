import { randomUUID } from "node:crypto";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { describe, expect, inject, it } from "vitest";
import { dynamoStores } from "../../core/adapters/dynamo/store.js";
import { delaySecondsUntil, ensureWakeQueue, SqsWakeUps } from "../../core/adapters/sqs/wake-ups.js";
import { silentLogger } from "../../core/adapters/system.js";
import { callbackTaskId } from "../../core/engine/index.js";
import type { Run } from "../../core/model/index.js";
import type { Clock, MetricPoint } from "../../core/ports.js";
import { owedMessage } from "../../core/services/commands.js";
import { reconcileAll } from "../../core/services/scheduler.js";
import { handleWakeUps } from "../../core/services/wake-ups.js";
import { createCallbackApp } from "../../functions/callback.js";
import {
  countingProxy,
  dynamoClient,
  freshQueue,
  freshStore,
  interceptOnce,
  roundTrips,
  sqsClient,
  traceRequests,
  UNREACHABLE,
} from "../helpers/aws.js";
import { newRun, pipeline, runTask, taskState, trigger } from "../helpers/factories.js";
import type { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";

/** A clock the test moves by hand. */
function manualClock(start: string): Clock & { set(at: string): void } {
  let now = start;
  return {
    now: () => now,
    set: (at) => {
      now = at;
    },
  };
}

/** Matches the run's `nth` save (its head's PutItem) from now on. */
function runSave(runId: string, nth: number) {
  let saves = 0;
  return (command: string, input: Record<string, unknown>) =>
    command === "PutItem" &&
    (input.Item as { pk?: { S?: string } }).pk?.S === `RUN#${runId}` &&
    ++saves === nth;
}

async function freshWakeQueue() {
  const client = sqsClient();
  const url = await ensureWakeQueue(client, `hookflow-wake-${randomUUID().slice(0, 8)}`, {
    visibilityTimeoutSeconds: 30,
  });
  return { client, url };
}

async function waiting(client: ReturnType<typeof sqsClient>, url: string) {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages),
    delayed: Number(Attributes?.ApproximateNumberOfMessagesDelayed),
  };
}

/** Long-polls until a wake-up arrives; returns its body and when it arrived. */
async function nextWakeUp(wakeUps: SqsWakeUps) {
  for (;;) {
    const [message] = await wakeUps.receive({ max: 1, waitSeconds: 1 });
    if (!message) continue;
    await wakeUps.delete(message.ReceiptHandle ?? "");
    return { body: JSON.parse(message.Body ?? "{}"), arrived: Date.now(), record: message };
  }
}

const record = (runId: string, at: string, id = randomUUID()) => ({
  messageId: id,
  body: JSON.stringify({ runId, at, reason: "observe" }),
});

describe("delayed wake-ups (standard SQS queue with DelaySeconds)", () => {
  it("counts whole seconds from now, never early, at most SQS's 900", () => {
    const now = "2026-01-01T00:00:00.000Z";
    expect(delaySecondsUntil("2026-01-01T00:00:00.200Z", now)).toBe(1);
    expect(delaySecondsUntil("2026-01-01T00:00:02.000Z", now)).toBe(2);
    expect(delaySecondsUntil("2025-12-31T23:59:00.000Z", now)).toBe(0);
    expect(delaySecondsUntil("2026-01-01T01:00:00.000Z", now)).toBe(900);
  });

  it("the SQS emulator holds a message on a standard queue for its DelaySeconds", async () => {
    const { client, url } = await freshWakeQueue();
    const wakeUps = new SqsWakeUps(client, url, { now: () => new Date().toISOString() });
    const before = Date.now();
    const at = new Date(before + 2000).toISOString();
    await wakeUps.schedule("r1", at, "observe");
    expect(await wakeUps.receive({ waitSeconds: 0 })).toEqual([]);
    expect(await waiting(client, url)).toEqual({ visible: 0, delayed: 1 });
    const { body, arrived } = await nextWakeUp(wakeUps);
    expect(body).toEqual({ runId: "r1", at, reason: "observe" });
    expect(arrived - before).toBeGreaterThanOrEqual(2000);
  });

  /** The wake-up function's parts on the emulators, with a table of runs and the metrics it counted. */
  async function wakeSystem(now: string) {
    const { client, url } = await freshWakeQueue();
    const { queue } = await freshQueue();
    const { stores, client: dynamo, table } = await freshStore();
    const clock = manualClock(now);
    const points: MetricPoint[] = [];
    const metrics = { add: (...p: MetricPoint[]) => points.push(...p), flush: async () => {} };
    const deps = {
      queue,
      wakeUps: new SqsWakeUps(client, url, clock),
      runs: stores.runs,
      clock,
      log: silentLogger,
      metrics,
    };
    return { deps, queue, stores, dynamo, table, points, wakeSqs: client, wakeUrl: url };
  }

  /** A stored run of one task, started at T, the task submitted at T and `status` now. */
  async function storedRun(
    stores: Awaited<ReturnType<typeof freshStore>>["stores"],
    id: string,
    status: "running" | "succeeded",
  ): Promise<Run> {
    const run = newRun({
      id,
      pipeline: pipeline({ name: "one", stages: [{ name: "s", tasks: [runTask("t")] }] }),
    });
    const T = "2026-01-01T00:00:00.000Z";
    Object.assign(run, { status, startedAt: T, ...(status === "succeeded" && { finishedAt: T }) });
    Object.assign(taskState(run, "t"), {
      status,
      attempt: 1,
      jobName: `${id}-t-1`,
      submittedAt: T,
      ...(status === "succeeded" && { finishedAt: T }),
    });
    return stores.runs.saveRun(run);
  }

  it("a due wake-up for a task still out there becomes one reconcile, however many asked for the instant", async () => {
    const sys = await wakeSystem("2026-01-01T00:00:05.000Z");
    await storedRun(sys.stores, "r1", "running");
    const at = "2026-01-01T00:00:05.000Z";
    const result = await handleWakeUps([record("r1", at), record("r1", at)], sys.deps);
    expect(result.batchItemFailures).toEqual([]);
    const received = await sys.queue.receive({ waitSeconds: 1 });
    expect(received.map((m) => JSON.parse(m.Body ?? "{}"))).toEqual([
      { runId: "r1", event: { type: "reconcile" } },
    ]);
    await sys.queue.delete(received[0]?.ReceiptHandle ?? "");
    expect(await sys.queue.receive({ waitSeconds: 0 })).toEqual([]);
    expect(sys.points).toEqual([]);
  });

  it("a due wake-up whose task already ended (it called back first) sends no reconcile, and is counted", async () => {
    const sys = await wakeSystem("2026-01-01T00:00:01.000Z");
    await storedRun(sys.stores, "ended1", "succeeded");
    await storedRun(sys.stores, "active1", "running");
    const at = "2026-01-01T00:00:01.000Z";
    const result = await handleWakeUps([record("ended1", at), record("active1", at)], sys.deps);
    expect(result.batchItemFailures).toEqual([]);
    // Only the active run's reconcile reached the work queue: the ended run's would have changed nothing.
    const received = await sys.queue.receive({ waitSeconds: 1, max: 10 });
    expect(received.map((m) => JSON.parse(m.Body ?? "{}").runId)).toEqual(["active1"]);
    expect(sys.points).toEqual([{ name: "WakeUpsDropped", unit: "Count", value: 1 }]);
  });

  it("forwards a wake-up whose run cannot be parsed or read, never drops it", async () => {
    const sys = await wakeSystem("2026-01-01T00:00:01.000Z");
    // A run item this release cannot read (no schema, no document), written beside a real one.
    await sys.dynamo.send(
      new PutItemCommand({ TableName: sys.table, Item: { pk: { S: "RUN#broken1" }, sk: { S: "RUN" } } }),
    );
    await expect(sys.stores.runs.getRun("broken1")).rejects.toThrow();
    // And a table that cannot be read at all (it does not exist).
    const unreadable = dynamoStores({ client: sys.dynamo, table: `${sys.table}-missing` }).runs;
    const at = "2026-01-01T00:00:01.000Z";
    expect(await handleWakeUps([record("broken1", at)], sys.deps)).toEqual({ batchItemFailures: [] });
    const unreadMessage = randomUUID();
    const warned: Array<{ message: string } & Record<string, unknown>> = [];
    const log = {
      ...silentLogger,
      warn: (message: string, fields = {}) => warned.push({ message, ...fields }),
    };
    expect(
      await handleWakeUps([record("unread1", at, unreadMessage)], { ...sys.deps, runs: unreadable, log }),
    ).toEqual({ batchItemFailures: [] });
    // Said with the wake-up's message and run, as every line about it is.
    expect(warned).toEqual([
      {
        message: "run not read for a wake-up: forwarded",
        messageId: unreadMessage,
        runId: "unread1",
        error: expect.any(String),
      },
    ]);
    const forwarded: string[] = [];
    while (forwarded.length < 2)
      for (const message of await sys.queue.receive({ waitSeconds: 1 })) {
        forwarded.push(JSON.parse(message.Body ?? "{}").runId);
        await sys.queue.delete(message.ReceiptHandle ?? "");
      }
    expect(forwarded.sort()).toEqual(["broken1", "unread1"]);
    expect(sys.points).toEqual([]);
  });

  it("a wake-up further away than SQS can delay is sent on, not delivered early", async () => {
    const sys = await wakeSystem("2026-01-01T00:00:00.000Z");
    await handleWakeUps([record("r1", "2026-01-01T00:20:00.000Z")], sys.deps);
    expect(await sys.queue.receive({ waitSeconds: 0 })).toEqual([]);
    expect(await waiting(sys.wakeSqs, sys.wakeUrl)).toEqual({ visible: 0, delayed: 1 });
  });

  it("drops a malformed wake-up without failing the batch or reaching the work queue", async () => {
    const sys = await wakeSystem("2026-01-01T00:00:00.000Z");
    const bad = [
      { messageId: "a", body: "not json" },
      { messageId: "b", body: JSON.stringify({ runId: "R!", at: "soon", reason: "observe" }) },
    ];
    expect(await handleWakeUps(bad, sys.deps)).toEqual({ batchItemFailures: [] });
    expect(await sys.queue.receive({ waitSeconds: 0 })).toEqual([]);
  });
});

describe("follow-up observations of a submitted task", () => {
  const oneTask = pipeline({ name: "one", stages: [{ name: "s", tasks: [runTask("quiet")] }] });

  async function system() {
    const { client, url } = await freshWakeQueue();
    const clock = manualClock("2026-01-01T00:00:00.000Z");
    const sys = await testSystem({ env: { HOOKFLOW_WAKE_QUEUE_URL: url }, clock });
    return { ...sys, clock, sqs: client, wakeUrl: url, wakeUps: sys.wakeUps as SqsWakeUps };
  }

  it("looks again 1, 2 and 4 s after submission while the task runs, and stops once it ended", async () => {
    const sys = await system();
    const run = newRun({ id: "quiet1", pipeline: oneTask });
    await sys.stores.runs.saveRun(run);
    await sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    const submittedAt = "2026-01-01T00:00:00.000Z";
    const seconds = (n: number) => new Date(Date.parse(submittedAt) + n * 1000).toISOString();

    // Each due wake-up is handled as Lambda would: forwarded to the work queue, then reconciled.
    for (const offset of [1, 2, 4]) {
      const { body, record: message } = await nextWakeUp(sys.wakeUps);
      expect(body).toEqual({ runId: run.id, at: seconds(offset), reason: "observe" });
      sys.clock.set(body.at);
      const wake = { messageId: message.MessageId ?? "", body: message.Body ?? "" };
      await handleWakeUps([wake], { ...sys, wakeUps: sys.wakeUps, runs: sys.stores.runs });
      const [work] = await sys.queue.receive({ waitSeconds: 1 });
      await sys.queue.delete(work?.ReceiptHandle ?? "");
      if (offset === 4)
        (sys.runner as MemoryRunner).set(jobOf(sys.runner as MemoryRunner), { state: "succeeded" });
      await sys.scheduler.handle(JSON.parse(work?.Body ?? "{}"));
    }
    expect((await sys.stores.runs.getRun(run.id))?.status).toBe("succeeded");
    expect(await waiting(sys.sqs, sys.wakeUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it("a new run's first message: its requests in turn, the first look asked for beside the save that records the submission", async () => {
    const { client, url } = await freshWakeQueue();
    const dynamo = dynamoClient();
    const sqs = sqsClient();
    const clock = manualClock("2026-01-01T00:00:00.000Z");
    const sys = await testSystem({
      dynamoClient: dynamo,
      sqsClient: sqs,
      env: { HOOKFLOW_WAKE_QUEUE_URL: url },
      clock,
    });
    const run = newRun({ id: "beside1", pipeline: oneTask });
    await sys.stores.runs.saveRun(run);
    const traced = traceRequests(dynamo, sqs);
    await sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    // The run's Query; the save of run.created beside the slot's take; then (the Job and its Secret, in memory
    // here) the save of task.submitted beside the wake-up (docs/decisions.md, 5).
    expect(traced.map((r) => r.name).sort()).toEqual(
      [
        "DynamoDB.Query",
        "DynamoDB.PutItem",
        "DynamoDB.UpdateItem",
        "DynamoDB.PutItem",
        "SQS.SendMessage",
      ].sort(),
    );
    const startOf = (name: string) => traced.find((r) => r.name === name)?.start ?? Number.NaN;
    const [firstSave, secondSave] = traced.filter((r) => r.name === "DynamoDB.PutItem");
    // The slot's take starts before the first save has answered; the wake-up, after the slot's take answered (so
    // after the Job) and before the second save has answered.
    expect(startOf("DynamoDB.UpdateItem")).toBeLessThan(firstSave?.end ?? Number.NaN);
    const take = traced.find((r) => r.name === "DynamoDB.UpdateItem");
    expect(startOf("SQS.SendMessage")).toBeGreaterThan(take?.end ?? Number.NaN);
    expect(startOf("SQS.SendMessage")).toBeLessThan(secondSave?.end ?? Number.NaN);
    expect(roundTrips(traced)).toBe(3);
    const wakeUps = new SqsWakeUps(client, url, clock);
    const { body } = await nextWakeUp(wakeUps);
    expect(body).toEqual({ runId: run.id, at: "2026-01-01T00:00:01.000Z", reason: "observe" });
    expect(await waiting(client, url)).toEqual({ visible: 0, delayed: 0 });
  });

  it("a delivery's new run: its first message takes three round trips on two connections, the slot's take beside the first save", async () => {
    const { url } = await freshWakeQueue();
    // A new client, as in a fresh process, through a proxy that counts its connections.
    const proxy = await countingProxy(inject("dynamoEndpoint"));
    const dynamo = dynamoClient(proxy.url);
    const sqs = sqsClient();
    const sys = await testSystem({
      dynamoClient: dynamo,
      sqsClient: sqs,
      env: { HOOKFLOW_WAKE_QUEUE_URL: url },
    });
    const run = newRun({ id: "delivered1", pipeline: oneTask, trigger: trigger({ deliveryId: "d-1" }) });
    await sys.stores.runs.saveRun(run);
    const traced = traceRequests(dynamo, sqs);
    await sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    const [firstSave] = traced.filter((r) => r.name === "DynamoDB.PutItem");
    const [take] = traced.filter((r) => r.name === "DynamoDB.UpdateItem");
    expect(take?.start).toBeLessThan(firstSave?.end ?? Number.NaN);
    expect(traced.map((r) => r.name).sort()).toEqual([
      "DynamoDB.PutItem",
      "DynamoDB.PutItem",
      "DynamoDB.Query",
      "DynamoDB.UpdateItem",
      "SQS.SendMessage",
    ]);
    expect(roundTrips(traced)).toBe(3);
    expect(proxy.connections).toBe(2);
    dynamo.destroy();
    await proxy.close();
  });

  it("a look asked for beside a save that fails finds nothing due and is dropped; the reconciler's look records the submission and asks again", async () => {
    const { client, url } = await freshWakeQueue();
    const dynamo = dynamoClient();
    const clock = manualClock("2026-01-01T00:00:00.000Z");
    const sys = await testSystem({ dynamoClient: dynamo, env: { HOOKFLOW_WAKE_QUEUE_URL: url }, clock });
    const run = newRun({ id: "besidefail1", pipeline: oneTask });
    await sys.stores.runs.saveRun(run);
    // The run's second save (the one that records the submission) fails unsent.
    interceptOnce(dynamo, runSave(run.id, 2), UNREACHABLE);
    await expect(sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } })).rejects.toThrow(
      "DynamoDB unreachable",
    );
    const stored = (await sys.stores.runs.getRun(run.id)) as Run;
    expect(taskState(stored, "quiet").submittedAt).toBeUndefined();
    expect((sys.runner as MemoryRunner).jobs.size).toBe(1);

    // The look asked for beside the failed save comes when due, and finds the task not recorded submitted.
    const wakeUps = new SqsWakeUps(client, url, clock);
    const { body, record: message } = await nextWakeUp(wakeUps);
    expect(body).toEqual({ runId: run.id, at: "2026-01-01T00:00:01.000Z", reason: "observe" });
    clock.set(body.at);
    const points: MetricPoint[] = [];
    const metrics = { add: (...p: MetricPoint[]) => points.push(...p), flush: async () => {} };
    const wake = { messageId: message.MessageId ?? "", body: message.Body ?? "" };
    await handleWakeUps([wake], { ...sys, wakeUps, runs: sys.stores.runs, metrics });
    expect(points.map((p) => p.name)).toEqual(["WakeUpsDropped"]);
    expect(await sys.queue.receive({ waitSeconds: 0 })).toEqual([]);

    // The reconciler's look finds the Job, records the submission and asks for the next look.
    await sys.scheduler.handle({ runId: run.id, event: { type: "reconcile" } });
    expect(taskState((await sys.stores.runs.getRun(run.id)) as Run, "quiet").submittedAt).toBeDefined();
    expect((sys.runner as MemoryRunner).jobs.size).toBe(1);
    expect((await nextWakeUp(wakeUps)).body).toEqual({
      runId: run.id,
      at: "2026-01-01T00:00:02.000Z",
      reason: "observe",
    });
  });

  it("a message that neither observed nor submitted (a callback's) asks for no wake-up", async () => {
    const sys = await system();
    const run = newRun({ id: "quiet2", pipeline: oneTask });
    await sys.stores.runs.saveRun(run);
    await sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    await nextWakeUp(sys.wakeUps); // the one the submission asked for
    sys.clock.set("2026-01-01T00:00:00.500Z");
    const stored = await sys.stores.runs.getRun(run.id);
    const { dedupKey: _, ...owed } = owedMessage(run.id, stored?.version ?? 0);
    await sys.scheduler.handle(owed);
    expect(await waiting(sys.sqs, sys.wakeUrl)).toEqual({ visible: 0, delayed: 0 });
  });
});

describe("follow-ups with the relay's reports", () => {
  const RELAY_TOKEN = "relay-token-0123456789abcdef";
  const oneTask = pipeline({ name: "one", stages: [{ name: "s", tasks: [runTask("long")] }] });

  async function system() {
    const { client, url } = await freshWakeQueue();
    const clock = manualClock("2026-01-01T00:00:00.000Z");
    const sys = await testSystem({
      env: { HOOKFLOW_WAKE_QUEUE_URL: url, HOOKFLOW_RELAY_TOKEN: RELAY_TOKEN },
      clock,
    });
    return {
      ...sys,
      clock,
      sqs: client,
      wakeUrl: url,
      wakeUps: sys.wakeUps as SqsWakeUps,
      app: createCallbackApp(sys.callback),
    };
  }
  type System = Awaited<ReturnType<typeof system>>;

  /** Handles every message the work queue holds, as the scheduler's Lambda would; how many. */
  async function drainWork(sys: System): Promise<number> {
    let handled = 0;
    for (;;) {
      const messages = await sys.queue.receive({ waitSeconds: 0 });
      if (messages.length === 0) return handled;
      handled += messages.length;
      for (const message of messages) {
        await sys.scheduler.handle(JSON.parse(message.Body ?? "{}"));
        await sys.queue.delete(message.ReceiptHandle ?? "");
      }
    }
  }

  /**
   * The next due wake-up, handled as Lambda would and its reconcile (if it was forwarded) handled; the instant it
   * was for, and whether it reached the work queue.
   */
  async function look(sys: System): Promise<{ at: string; reconciled: boolean }> {
    const { body, record: message } = await nextWakeUp(sys.wakeUps);
    sys.clock.set(body.at);
    const wake = { messageId: message.MessageId ?? "", body: message.Body ?? "" };
    expect(await handleWakeUps([wake], { ...sys, runs: sys.stores.runs })).toEqual({
      batchItemFailures: [],
    });
    return { at: body.at, reconciled: (await drainWork(sys)) > 0 };
  }

  /** The task's Job runs, and `who` says so: the relay (watching the Job), or the task through its own callback. */
  async function reportRunning(sys: System, runId: string, who: "relay" | "task") {
    const runner = sys.runner as MemoryRunner;
    const jobName = jobOf(runner);
    runner.set(jobName, { state: "running" });
    const [launch] = runner.launchesOf("long");
    if (!launch) throw new Error("no launch");
    const res =
      who === "relay"
        ? await sys.app.request("/callbacks/relay", {
            method: "POST",
            headers: { authorization: `Bearer ${RELAY_TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({
              jobName,
              runId,
              task: "long",
              attempt: 1,
              observation: { state: "running" },
            }),
          })
        : await sys.app.request(`/callbacks/tasks/${callbackTaskId(runId, "long", 1)}`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${sys.callback.tokens.tokenFor(launch)}`,
              "content-type": "application/json",
            },
            body: JSON.stringify({ status: "running" }),
          });
    expect(res.status).toBe(200);
    await drainWork(sys);
  }

  it("a task the relay reports running gets no more follow-ups, and the reconciler's tick still sees its end", async () => {
    const sys = await system();
    const run = newRun({ id: "relayed1", pipeline: oneTask });
    await sys.stores.runs.saveRun(run);
    await sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    sys.clock.set("2026-01-01T00:00:00.300Z");
    await reportRunning(sys, run.id, "relay");
    const watched = await sys.stores.runs.getRun(run.id);
    expect(watched?.stages[0]?.tasks[0]).toMatchObject({ status: "running", relayedAttempt: 1 });
    // The wake-up the submission asked for still comes, finds the relay watching and nothing else due: dropped.
    expect(await look(sys)).toEqual({ at: "2026-01-01T00:00:01.000Z", reconciled: false });
    expect(await waiting(sys.sqs, sys.wakeUrl)).toEqual({ visible: 0, delayed: 0 });
    // The relay dies without reporting the end: the reconciler's tick observes the Job.
    (sys.runner as MemoryRunner).set(jobOf(sys.runner as MemoryRunner), { state: "succeeded" });
    sys.clock.set("2026-01-01T00:01:00.000Z");
    expect(await reconcileAll({ runs: sys.stores.runs, queue: sys.queue, clock: sys.clock })).toBe(1);
    await drainWork(sys);
    expect((await sys.stores.runs.getRun(run.id))?.status).toBe("succeeded");
    expect(await waiting(sys.sqs, sys.wakeUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it("a task that reports running itself (no relay) keeps the dense schedule", async () => {
    const sys = await system();
    const run = newRun({ id: "unrelayed1", pipeline: oneTask });
    await sys.stores.runs.saveRun(run);
    await sys.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    sys.clock.set("2026-01-01T00:00:00.300Z");
    await reportRunning(sys, run.id, "task");
    const running = await sys.stores.runs.getRun(run.id);
    expect(running?.stages[0]?.tasks[0]?.status).toBe("running");
    expect(running?.stages[0]?.tasks[0]?.relayedAttempt).toBeUndefined();
    const looks = [await look(sys), await look(sys), await look(sys)];
    expect(looks).toEqual([
      { at: "2026-01-01T00:00:01.000Z", reconciled: true },
      { at: "2026-01-01T00:00:02.000Z", reconciled: true },
      { at: "2026-01-01T00:00:04.000Z", reconciled: true },
    ]);
    expect(await waiting(sys.sqs, sys.wakeUrl)).toEqual({ visible: 0, delayed: 1 });
  });
});

function jobOf(runner: MemoryRunner): string {
  const [name] = runner.jobs.keys();
  if (!name) throw new Error("no Job submitted");
  return name;
}
