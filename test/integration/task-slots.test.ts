import {
  type ConsumedCapacity,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { isTerminalRun, type Pipeline, type Run, type TaskLaunch } from "../../core/model/index.js";
import type { PipelineSlots, SlotWaiter } from "../../core/ports.js";
import { taskSlots } from "../../core/wiring.js";
import { createReconcilerHandler } from "../../functions/reconciler.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { pollOnce } from "../../infra/local/queue-poller.js";
import { dynamoClient, freshStore } from "../helpers/aws.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";
import { waitFor } from "../helpers/wait.js";

type System = Awaited<ReturnType<typeof testSystem>>;

/**
 * A memory runner that counts, per pipeline, the Jobs submitted and not yet ended (the test ends them), and the
 * most there ever were at once.
 */
class CountingRunner extends MemoryRunner {
  readonly alive = new Map<string, TaskLaunch>();
  /** Per pipeline, the most Jobs alive at once. */
  readonly maxAlive = new Map<string, number>();

  override async submit(launch: TaskLaunch): Promise<void> {
    const known = this.jobs.has(launch.jobName);
    await super.submit(launch);
    if (known) return;
    this.alive.set(launch.jobName, launch);
    const mine = [...this.alive.values()].filter((l) => l.pipeline === launch.pipeline).length;
    this.maxAlive.set(launch.pipeline, Math.max(this.maxAlive.get(launch.pipeline) ?? 0, mine));
  }

  /** The oldest Job still alive, ended: its process exits 0 (its callback is the test's to send). */
  endOldest(): TaskLaunch | undefined {
    const [name, launch] = this.alive.entries().next().value ?? [];
    if (!name || !launch) return undefined;
    this.alive.delete(name);
    this.set(name, { state: "succeeded" });
    return launch;
  }
}

let system: System;
let runner: CountingRunner;
let scheduler: ReturnType<typeof createSchedulerHandler>;

beforeAll(async () => {
  runner = new CountingRunner();
  system = await testSystem({ runner });
  scheduler = createSchedulerHandler(system);
});

const waiter = (runId: string, task = "t", attempt = 1): SlotWaiter => ({
  runId,
  task,
  attempt,
  since: `2026-12-01T00:00:0${runId.length % 10}.000Z`,
});

async function startRuns(p: Pipeline, ids: string[]): Promise<void> {
  for (const id of ids) await system.stores.runs.saveRun(newRun({ id, pipeline: p }));
  await system.queue.send(
    ids.map((id) => ({ runId: id, event: { type: "run.created" }, dedupKey: `c:${id}` })),
  );
}

/** A task's callback, as TaskReports records it: the run owes its effects, carried out from the queue. */
async function callBack(launch: TaskLaunch): Promise<void> {
  const { runId, task, attempt } = launch;
  await system.commands.handle(
    runId,
    { type: "task.succeeded", task, attempt },
    { kind: "task", runId, task, attempt },
  );
}

const slotsOf = (name: string) => system.stores.taskSlots.read(name);
const runsOf = (ids: string[]) =>
  Promise.all(ids.map(async (id) => (await system.stores.runs.getRun(id)) as Run));

describe("task slots in DynamoDB", () => {
  it("count exactly under concurrent takes, and a repeated take, release or hand-off counts once", async () => {
    const { client, table, stores } = await freshStore();
    const slots = stores.taskSlots;
    const takes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => slots.take("race", waiter(`r${i}`), 5)),
    );
    expect(takes.filter((t) => t.taken)).toHaveLength(5);
    const after = await slots.read("race");
    expect(after?.holders).toHaveLength(5);
    expect(after?.waiting).toHaveLength(15);

    const holding = Array.from({ length: 20 }, (_, i) => waiter(`r${i}`)).filter((_, i) => takes[i]?.taken);
    expect(after?.holders.sort()).toEqual(holding.map((h) => slots.keyOf(h)).sort());
    const held = holding[0] as SlotWaiter;
    // Taking again what one holds: still held, nothing more counted.
    expect(await slots.take("race", { ...held, since: "x" }, 5)).toEqual({ taken: true });
    expect((await slots.read("race"))?.holders).toHaveLength(5);
    // Given back twice while others wait: the slot moves to one of the oldest waiters once, not twice.
    const oldest = after?.waiting ?? [];
    const moved = await slots.release("race", { ...held, since: "x" }, 5);
    expect(oldest).toContainEqual(moved.handedTo);
    expect(await slots.release("race", { ...held, since: "x" }, 5)).toEqual({});
    const twice = await slots.read("race");
    expect(twice?.holders).toHaveLength(5);
    expect(twice?.holders).not.toContain(slots.keyOf(held));
    expect(twice?.holders).toContain(slots.keyOf(moved.handedTo as SlotWaiter));
    expect(twice?.waiting).toHaveLength(14);
    // With the limit lowered below what is held, a give-back frees its slot rather than moving it.
    const lowered = holding[1] as SlotWaiter;
    expect(await slots.release("race", lowered, 4)).toEqual({});
    expect((await slots.read("race"))?.holders).toHaveLength(4);

    // The oldest waiters are taken off the list by one caller only.
    const first = (twice?.waiting ?? []).slice(0, 2);
    expect(await slots.unwait("race", first)).toEqual({ ok: true });
    const again = await slots.unwait("race", first);
    expect(again.ok).toBe(false);
    // Room is handed to waiters only as far as it goes, and each waiter once.
    const next = (await slots.read("race"))?.waiting ?? [];
    expect((await slots.handOff("race", next.slice(0, 2), 5)).ok).toBe(false); // room for one
    expect(await slots.handOff("race", next.slice(0, 1), 5)).toEqual({ ok: true });
    expect((await slots.handOff("race", next.slice(0, 1), 6)).ok).toBe(false); // no longer waiting
    const handed = await slots.read("race");
    expect(handed?.holders).toHaveLength(5);
    expect(handed?.holders).toContain(slots.keyOf(next[0] as SlotWaiter));
    // Its run then takes the slot it was handed: held already, counted once.
    expect(await slots.take("race", next[0] as SlotWaiter, 5)).toEqual({ taken: true });
    expect((await slots.read("race"))?.holders).toHaveLength(5);
    expect(await countsOf(client, table, "race")).toEqual({ held: 5, waiting: 11 });
    // An attempt that ends while it waits gives back no slot, and waits no longer (once, however often asked).
    const ended = ((await slots.read("race"))?.waiting ?? [])[3] as SlotWaiter;
    expect(await slots.release("race", ended, 5)).toEqual({});
    expect(await slots.release("race", ended, 5)).toEqual({});
    expect((await slots.read("race"))?.waiting).not.toContainEqual(ended);
    expect(await countsOf(client, table, "race")).toEqual({ held: 5, waiting: 10 });
    expect(await slots.release("nopipeline", waiter("r1"), 5)).toEqual({});
  });

  it("take and give back with nobody waiting in one update of the counter each, one write unit, reading nothing", async () => {
    const { client, table, stores } = await freshStore();
    const sent = countRequests(client);
    const slots = stores.taskSlots;
    expect(await slots.take("quiet", waiter("q1"), 2)).toEqual({ taken: true });
    expect(await slots.release("quiet", waiter("q1"), 2)).toEqual({});
    expect(Object.fromEntries(sent)).toEqual({ UpdateItem: 2, WriteUnits: 2 });

    // A decision's three attempts: one update to take their slots, one to give them back.
    const three = ["a", "b", "c"].map((id) => waiter(id));
    expect(await slots.takeAll("quiet", three, 3)).toEqual(three);
    expect(await slots.releaseAll("quiet", three)).toEqual(three);
    expect(Object.fromEntries(sent)).toEqual({ UpdateItem: 4, WriteUnits: 4 });
    // All or nothing: no room for all, one held already, one not held: nothing changes.
    expect(await slots.takeAll("quiet", three, 2)).toEqual([]);
    expect(await slots.take("quiet", waiter("a"), 3)).toEqual({ taken: true });
    // Refused, it names those already holding a slot (a repeated call): the caller takes only the others.
    expect(await slots.takeAll("quiet", three, 3)).toEqual([waiter("a")]);
    expect(await slots.releaseAll("quiet", three)).toEqual([]);
    expect((await slots.read("quiet"))?.holders).toEqual([slots.keyOf(waiter("a"))]);
    expect(await countsOf(client, table, "quiet")).toEqual({ held: 1, waiting: 0 });
    // Taken again together after a partial failure (a Lambda retried after the first take): counted once.
    expect(await slots.takeAll("quiet", [waiter("b"), waiter("c")], 3)).toHaveLength(2);
    expect(await slots.takeAll("quiet", [waiter("b"), waiter("c")], 3)).toHaveLength(2);
    expect(await countsOf(client, table, "quiet")).toEqual({ held: 3, waiting: 0 });
  });

  it("lose no wake-up and count exactly while takes, waits and give-backs race", async () => {
    const { client, table, stores } = await freshStore();
    const slots = stores.taskSlots;
    const limit = 3;
    let holders = Array.from({ length: limit }, (_, i) => waiter(`h${i}`));
    const byKey = new Map(holders.map((h) => [slots.keyOf(h), h]));
    for (const h of holders) expect(await slots.take("racing", h, limit)).toEqual({ taken: true });
    for (let round = 0; round < 4; round++) {
      // As many give-backs as new takes, all at once: each give-back either moves its slot to a waiter or frees
      // it, and each take either holds a slot or waits, whatever the order DynamoDB applies them in.
      const newcomers = Array.from({ length: 4 }, (_, i) => waiter(`n${round}x${i}`));
      for (const n of newcomers) byKey.set(slots.keyOf(n), n);
      const [gaveBack] = await Promise.all([
        Promise.all(holders.map((h) => slots.release("racing", h, limit))),
        Promise.all(newcomers.map((n) => slots.take("racing", n, limit))),
      ]);
      const now = (await slots.read("racing")) as PipelineSlots;
      const counts = await countsOf(client, table, "racing");
      expect(counts).toEqual({ held: now.holders.length, waiting: now.waiting.length });
      expect(now.holders.length).toBeLessThanOrEqual(limit);
      // No lost wake-up: while anyone waits, every slot is held.
      if (now.waiting.length > 0) expect(now.holders.length).toBe(limit);
      // Each waiter was handed a slot at most once, and only waiters were.
      const handed = gaveBack.flatMap((g) => (g.handedTo ? [g.handedTo] : []));
      expect(new Set(handed.map((h) => h.runId)).size).toBe(handed.length);
      holders = now.holders.map((key) => byKey.get(key) as SlotWaiter);
    }
    // Drained, all at once each time: every waiter is served before any slot is left free, and at the end nothing
    // is held or counted (the last give-backs find nobody waiting, whatever this process last saw).
    for (
      let left = await slots.read("racing");
      left && left.holders.length > 0;
      left = await slots.read("racing")
    ) {
      if (left.waiting.length > 0) expect(left.holders.length).toBe(limit);
      // Half by attempt, half by key (as the repair gives back).
      await Promise.all(
        left.holders.map((key, i) =>
          slots.release("racing", i % 2 ? key : (byKey.get(key) as SlotWaiter), limit),
        ),
      );
    }
    expect(await slots.read("racing")).toMatchObject({ holders: [], waiting: [] });
    expect(await countsOf(client, table, "racing")).toEqual({ held: 0, waiting: 0 });
  });
});

/**
 * Counts the client's requests by command from now on, and the write units DynamoDB reports for them
 * (`WriteUnits`, asked for on every request).
 */
function countRequests(client: DynamoDBClient): Map<string, number> {
  const sent = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context.commandName ?? "?").replace("Command", "");
      sent.set(name, (sent.get(name) ?? 0) + 1);
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
        .ConsumedCapacity;
      const units = [consumed ?? []].flat().reduce((total, c) => total + (c.CapacityUnits ?? 0), 0);
      if (/Put|Update|Delete|Transact/.test(name))
        sent.set("WriteUnits", (sent.get("WriteUnits") ?? 0) + units);
      return result;
    },
    { step: "initialize" },
  );
  return sent;
}

/** The counter's own `held` and `waiting`, read straight from the table. */
async function countsOf(client: DynamoDBClient, table: string, pipeline: string) {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: { S: `SLOTS#${pipeline}` }, sk: { S: "COUNT" } },
      ConsistentRead: true,
    }),
  );
  return { held: Number(Item?.held?.N ?? 0), waiting: Number(Item?.waiting?.N ?? 0) };
}

describe("the slots' items", () => {
  it("stay small whatever the burst: a counter holding the holders' keys, one item per waiter, none indexed", async () => {
    const { client, table, stores } = await freshStore();
    const takes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => stores.taskSlots.take("wide", waiter(`w${i}`), 20)),
    );
    expect(takes.filter((t) => t.taken)).toHaveLength(20);
    const { Items = [] } = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: "SLOTS#wide" } },
      }),
    );
    expect(Items).toHaveLength(1 + 40);
    expect(Items.filter((i) => i.sk?.S?.startsWith("WAIT#"))).toHaveLength(40);
    expect(Items.filter((i) => i.gsi1pk !== undefined)).toEqual([]);
    const counter = Items.find((i) => i.sk?.S === "COUNT");
    expect([counter?.held?.N, counter?.waiting?.N, counter?.holders?.SS?.length]).toEqual(["20", "40", 20]);
    expect(Math.max(...Items.map((i) => JSON.stringify(i).length))).toBeLessThan(600);
  });

  it("cost one write unit a take and a give-back with 10 and with 100 holders (the most maxRunningTasks allows)", async () => {
    const { client, table, stores } = await freshStore();
    const slots = stores.taskSlots;
    // A long pipeline name, as the counter's key and its `pipeline` carry it twice.
    const name = "a-pipeline-with-a-long-name-of-forty-chars";
    for (const holders of [10, 100]) {
      // Many at once: a few updates (a condition is at most 4 KB), all of them taken.
      const others = Array.from({ length: holders - 1 }, (_, j) => waiter(`h${holders}x${j}`));
      expect(await slots.takeAll(name, others, 100)).toEqual(others);
      const sent = countRequests(client);
      expect(await slots.take(name, waiter(`last${holders}`), 100)).toEqual({ taken: true });
      expect(await slots.release(name, waiter(`last${holders}`), 100)).toEqual({});
      expect(await slots.take(name, waiter(`last${holders}`), 100)).toEqual({ taken: true });
      expect(Object.fromEntries(sent)).toEqual({ UpdateItem: 3, WriteUnits: 3 });
      const { Item } = await client.send(
        new GetItemCommand({ TableName: table, Key: { pk: { S: `SLOTS#${name}` }, sk: { S: "COUNT" } } }),
      );
      expect(Item?.holders?.SS).toHaveLength(holders);
      expect(await slots.releaseAll(name, [waiter(`last${holders}`)])).toHaveLength(1);
      expect(await slots.releaseAll(name, others)).toEqual(others);
    }
    expect(await countsOf(client, table, name)).toEqual({ held: 0, waiting: 0 });
  });

  it("of the release before (an indexed counter without `waiting`) leave the index and are counted by the repair", async () => {
    const { client, table, stores } = await freshStore();
    const key = (sk: string) => ({ pk: { S: "SLOTS#prior" }, sk: { S: sk } });
    const put = (Item: Record<string, { S: string } | { N: string }>) =>
      client.send(new PutItemCommand({ TableName: table, Item: { schema: { N: "3" }, ...Item } }));
    // As the release before left them: a full counter listed in byCollection, its holder, two waiters.
    await put({
      ...key("COUNT"),
      pipeline: { S: "prior" },
      held: { N: "1" },
      gsi1pk: { S: "SLOTS" },
      gsi1sk: { S: "prior" },
    });
    await put({ ...key("HOLD#a#t#1"), runId: { S: "a" }, task: { S: "t" }, attempt: { N: "1" } });
    for (const id of ["b", "c"])
      await put({
        ...key(`WAIT#2026-12-01T00:00:00.000Z#${id}#t#1`),
        runId: { S: id },
        task: { S: "t" },
        attempt: { N: "1" },
        since: { S: "2026-12-01T00:00:00.000Z" },
      });
    // The repair finds it through the index and counts its waiters.
    const [prior] = await stores.taskSlots.list();
    expect(prior?.waiting).toHaveLength(2);
    expect(await countsOf(client, table, "prior")).toEqual({ held: 1, waiting: 2 });
    // Its next write takes it out of the index; the give-back moves the slot to the oldest waiter.
    const moved = await stores.taskSlots.release("prior", { ...waiter("a"), since: "" }, 1);
    expect(["b", "c"]).toContain(moved.handedTo?.runId);
    expect(await countsOf(client, table, "prior")).toEqual({ held: 1, waiting: 1 });
    expect(await stores.taskSlots.list()).toEqual([]);
    expect((await stores.taskSlots.list(["prior"])).map((s) => s.waiting.length)).toEqual([1]);
  });

  it("of the release before (holder items counted in `held`) are given back, taken once and waited on correctly", async () => {
    const { client, table, stores } = await freshStore();
    const slots = stores.taskSlots;
    const sent = countRequests(client);
    const key = (sk: string) => ({ pk: { S: "SLOTS#up" }, sk: { S: sk } });
    const put = (Item: Record<string, { S: string } | { N: string }>) =>
      client.send(new PutItemCommand({ TableName: table, Item: { schema: { N: "3" }, ...Item } }));
    // As the release before left them with runs in flight: a counter of two holders, and their items.
    await put({
      ...key("COUNT"),
      pipeline: { S: "up" },
      held: { N: "2" },
      waiting: { N: "0" },
      writes: { N: "7" },
    });
    for (const id of ["x", "y"])
      await put({ ...key(`HOLD#${id}#t#1`), runId: { S: id }, task: { S: "t" }, attempt: { N: "1" } });
    expect((await slots.read("up"))?.holders.sort()).toEqual(
      ["x", "y"].map((id) => slots.keyOf(waiter(id))).sort(),
    );
    // Taken again by the attempt holding it (a retried message across the deploy): counted once.
    expect(await slots.take("up", waiter("x"), 3)).toEqual({ taken: true });
    expect(await slots.takeAll("up", [waiter("y"), waiter("z")], 3)).toEqual([]);
    expect(await countsOf(client, table, "up")).toEqual({ held: 2, waiting: 0 });
    // Room for one more beside them, then full: the next waits.
    expect(await slots.take("up", waiter("z"), 3)).toEqual({ taken: true });
    expect(await slots.take("up", waiter("w"), 3)).toEqual({ taken: false, holding: 3 });
    expect(await countsOf(client, table, "up")).toEqual({ held: 3, waiting: 1 });
    // A holder item given back hands its slot on; given back again, nothing.
    expect(await slots.release("up", waiter("x"), 3)).toEqual({ handedTo: waiter("w") });
    expect(await slots.release("up", waiter("x"), 3)).toEqual({});
    expect(await countsOf(client, table, "up")).toEqual({ held: 3, waiting: 0 });
    // Together with one on the counter: refused as a whole, given back one by one (as the service does).
    expect(await slots.releaseAll("up", [waiter("y"), waiter("z")])).toEqual([]);
    for (const id of ["y", "z"]) expect(await slots.release("up", waiter(id), 3)).toEqual({});
    // None left: `held` is the holders' set again, and a take is one update.
    expect(await countsOf(client, table, "up")).toEqual({ held: 1, waiting: 0 });
    const { Items = [] } = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :hold)",
        ExpressionAttributeValues: { ":pk": { S: "SLOTS#up" }, ":hold": { S: "HOLD#" } },
      }),
    );
    expect(Items).toEqual([]);
    sent.clear();
    expect(await slots.take("up", waiter("v"), 3)).toEqual({ taken: true });
    expect(Object.fromEntries(sent)).toEqual({ UpdateItem: 1, WriteUnits: 1 });
    expect((await slots.read("up"))?.holders.sort()).toEqual(
      ["v", "w"].map((id) => slots.keyOf(waiter(id))).sort(),
    );
  });

  it("of the release before (one item with string sets) are rewritten by the repair's first look", async () => {
    const { client, table, stores } = await freshStore();
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: "SLOTS#old" },
          sk: { S: "SLOTS" },
          pipeline: { S: "old" },
          gsi1pk: { S: "SLOTS" },
          gsi1sk: { S: "old" },
          schema: { N: "3" },
          holders: { SS: ["a t 1", "b t 1"] },
          waiting: { SS: ["2026-12-01T00:00:00.000Z c t 1"] },
        },
      }),
    );
    const [old] = await stores.taskSlots.list();
    expect(old?.holders.sort()).toEqual(["a", "b"].map((id) => stores.taskSlots.keyOf(waiter(id))).sort());
    expect(old?.waiting).toEqual([{ since: "2026-12-01T00:00:00.000Z", runId: "c", task: "t", attempt: 1 }]);
    // The two it held count against the limit: the waiter takes the one slot left, the next newcomer waits.
    expect(await stores.taskSlots.take("old", old?.waiting[0] as SlotWaiter, 3, true)).toEqual({
      taken: true,
    });
    expect(await stores.taskSlots.take("old", waiter("e"), 3)).toEqual({ taken: false, holding: 3 });
    const { Items = [] } = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :pk AND sk = :sk",
        ExpressionAttributeValues: { ":pk": { S: "SLOTS#old" }, ":sk": { S: "SLOTS" } },
      }),
    );
    expect(Items).toEqual([]);
  });
});

describe("a pipeline's maxRunningTasks across its runs", () => {
  it("never has more than the limit submitted in a burst; waiters start as slots free, with no reconciler tick", async () => {
    const burst = pipeline({
      name: "burst",
      maxRunningTasks: 3,
      stages: [{ name: "s", parallel: true, tasks: [runTask("a"), runTask("b")] }],
    });
    const ids = Array.from({ length: 8 }, (_, i) => `burst${i}`);
    await startRuns(burst, ids);
    let ended = 0;
    await waitFor(
      async () => {
        await pollOnce(system.queues.queue, scheduler, { waitSeconds: 0 });
        const launch = runner.endOldest();
        if (launch) {
          await callBack(launch);
          ended++;
        }
        const runs = await runsOf(ids);
        return runs.every((r) => isTerminalRun(r.status)) || undefined;
      },
      { what: () => `the burst to end (${ended} tasks ended)`, timeoutMs: 60_000, everyMs: 5 },
    );
    const runs = await runsOf(ids);
    expect(runs.map((r) => r.status)).toEqual(ids.map(() => "succeeded"));
    expect(ended).toBe(16);
    // Reached, never passed: 16 tasks went through 3 slots.
    expect(runner.maxAlive.get("burst")).toBe(3);
    // Every ended attempt gave its slot back (the last ones from the queue), and nobody waits.
    await waitFor(
      async () => {
        await pollOnce(system.queues.queue, scheduler, { waitSeconds: 0 });
        const slots = await slotsOf("burst");
        return slots?.holders.length === 0 && slots.waiting.length === 0 ? slots : undefined;
      },
      { what: "every slot of burst to be given back" },
    );
    const owing = (await runsOf(ids)).filter((r) => r.outbox.some((e) => e.type === "releaseSlot"));
    expect(owing.map((r) => r.id)).toEqual([]);
  });

  it("takes one slot through a crash between take and submit, gives nothing back twice; the repair frees a leak", async () => {
    const dup = pipeline({ name: "dup", maxRunningTasks: 2, stages: [{ name: "s", tasks: [runTask("t")] }] });
    const ids = ["dup1", "dup2", "dup3"];
    const drain = () =>
      waitFor(
        async () =>
          (await pollOnce(system.queues.queue, scheduler, { waitSeconds: 0 })).received === 0
            ? true
            : undefined,
        { what: "the work queue to drain" },
      );
    for (const id of ids) await system.stores.runs.saveRun(newRun({ id, pipeline: dup }));
    // A scheduler took dup1's slot and died before it submitted anything (or recorded that it took it).
    const dup1 = (await system.stores.runs.getRun("dup1")) as Run;
    await system.stores.taskSlots.take(
      "dup",
      { runId: "dup1", task: "t", attempt: 1, since: dup1.createdAt },
      2,
    );
    await system.queue.send(
      ids.map((id) => ({ runId: id, event: { type: "run.created" }, dedupKey: `c:${id}` })),
    );
    await drain();
    // dup1 submitted under the slot it held: one of the others has the second slot, the third waits.
    expect(taskState((await system.stores.runs.getRun("dup1")) as Run, "t").submittedAt).toBeDefined();
    expect((await slotsOf("dup"))?.holders).toHaveLength(2);
    expect([...runner.alive.values()].filter((l) => l.pipeline === "dup")).toHaveLength(2);
    const waitingId = (await runsOf(["dup1", "dup2", "dup3"])).find(
      (r) => taskState(r, "t").reason === "WaitingForRoom",
    )?.id as string;

    // The first Job ends; its slot goes to the waiting run.
    const first = runner.endOldest() as TaskLaunch;
    await callBack(first);
    // The same callback again (a retried request) and the same message twice: nothing is given back twice.
    await callBack(first);
    await system.queue.send([
      { runId: first.runId, event: { type: "reconcile" }, observe: false, dedupKey: "again-1" },
    ]);
    await system.queue.send([
      { runId: first.runId, event: { type: "reconcile" }, observe: false, dedupKey: "again-2" },
    ]);
    await drain();
    const firstRun = (await system.stores.runs.getRun(first.runId)) as Run;
    expect(firstRun.status).toBe("succeeded");
    expect(taskState((await system.stores.runs.getRun(waitingId)) as Run, "t").submittedAt).toBeDefined();
    // A duplicate release of the ended attempt, straight to the slots: the two holders stay.
    await system.stores.taskSlots.release(
      "dup",
      { runId: first.runId, task: "t", attempt: 1, since: firstRun.createdAt },
      2,
    );
    expect((await slotsOf("dup"))?.holders.sort()).toEqual(
      ["dup1", "dup2", "dup3"]
        .filter((id) => id !== first.runId)
        .map((runId) => system.stores.taskSlots.keyOf({ runId, task: "t", attempt: 1 }))
        .sort(),
    );

    // A slot left held by an attempt that ended (a take that raced its end): the reconciler's repair frees it.
    await system.stores.taskSlots.take(
      "dup",
      { runId: first.runId, task: "t", attempt: 1, since: firstRun.createdAt },
      3,
    );
    expect((await slotsOf("dup"))?.holders).toHaveLength(3);
    const tick = createReconcilerHandler({
      runs: system.stores.runs,
      queue: system.queue,
      clock: system.clock,
      log: system.log,
      slots: taskSlots(system),
    });
    // Its first look suspects it (the run of a slot just taken may not be in the active index yet), its next
    // gives it back.
    await tick();
    expect((await slotsOf("dup"))?.holders).toHaveLength(3);
    expect((await slotsOf("dup"))?.suspects).toEqual([system.stores.taskSlots.keyOf(first)]);
    await tick();
    expect((await slotsOf("dup"))?.holders).toHaveLength(2);
    expect((await slotsOf("dup"))?.suspects).toEqual([]);
    expect(runner.maxAlive.get("dup")).toBe(2);

    // A holder item of the release before, of the attempt that ended (counted in `held`, as it counted them): the
    // repair gives it back too, at its second look.
    const client = dynamoClient();
    const table = system.config.HOOKFLOW_TABLE;
    const slotKey = (sk: string) => ({ pk: { S: "SLOTS#dup" }, sk: { S: sk } });
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          ...slotKey(`HOLD#${first.runId}#t#1`),
          runId: { S: first.runId },
          task: { S: "t" },
          attempt: { N: "1" },
          schema: { N: "3" },
        },
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: slotKey("COUNT"),
        UpdateExpression: "ADD held :one",
        ExpressionAttributeValues: { ":one": { N: "1" } },
      }),
    );
    expect((await slotsOf("dup"))?.holders).toHaveLength(3);
    await tick();
    await tick();
    expect((await slotsOf("dup"))?.holders).toHaveLength(2);
    expect(await countsOf(client, table, "dup")).toEqual({ held: 2, waiting: 0 });
  });
});
