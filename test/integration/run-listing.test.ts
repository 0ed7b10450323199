import { type DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { runItem, specItem, specOf } from "../../core/adapters/dynamo/run-items.js";
import { dynamoStores, type Stores } from "../../core/adapters/dynamo/store.js";
import { ensureTable } from "../../core/adapters/dynamo/table.js";
import { transition } from "../../core/engine/index.js";
import { needsReconciling, type Run } from "../../core/model/index.js";
import { dynamoClient } from "../helpers/aws.js";
import { at, newRun, pipeline, T0 } from "../helpers/factories.js";

/** Write units DynamoDB reports per index (ReturnConsumedCapacity: INDEXES), from every request `client` sends. */
function indexWriteUnits(client: DynamoDBClient): Map<string, number> {
  const units = new Map<string, number>();
  type Consumed = { GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }> };
  type Next = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
  client.middlewareStack.add(
    ((next: Next) => async (args: { input: Record<string, unknown> }) => {
      args.input.ReturnConsumedCapacity = "INDEXES";
      const result = await next(args);
      const reported = result.output.ConsumedCapacity as Consumed | Consumed[] | undefined;
      for (const consumed of [reported ?? []].flat())
        for (const [index, { CapacityUnits = 0 }] of Object.entries(consumed.GlobalSecondaryIndexes ?? {}))
          units.set(index, (units.get(index) ?? 0) + CapacityUnits);
      return result;
    }) as never,
    { step: "initialize", name: "indexWriteUnits" } as never,
  );
  return units;
}

let client: DynamoDBClient;
let table: string;
let stores: Stores;
let units: Map<string, number>;
beforeAll(async () => {
  client = dynamoClient();
  table = `hookflow-test-listing-${Date.now()}`;
  await ensureTable(client, table);
  units = indexWriteUnits(client);
  stores = dynamoStores({ client, table });
});

const runAt = (id: string, seconds: number, name: string): Run => ({
  ...newRun({ id, pipeline: pipeline({ name }) }),
  createdAt: at(seconds),
});
const finish = async (run: Run) => stores.runs.saveRun(transition(run, { type: "cancel.requested" }, T0).run);
const rawHead = async (id: string) =>
  (
    await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `RUN#${id}` }, sk: { S: "RUN" } } }),
    )
  ).Item ?? {};

/** Every page of a listing, followed by its cursors. */
async function listAll(query: { pipeline?: string; status?: Run["status"]; limit: number }) {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await stores.runs.listRuns({ ...query, cursor });
    expect(page.items.length).toBeLessThanOrEqual(query.limit);
    pages.push(page.items.map((r) => r.id));
    cursor = page.cursor;
  } while (cursor && pages.length < 50);
  return pages;
}

describe("run listing", () => {
  it("copies a head into byPipeline and byTime once, when it stops needing reconciling, not on each save", async () => {
    units.clear();
    let run = await stores.runs.saveRun(runAt("once", 0, "once"));
    run = await stores.runs.saveRun(transition(run, { type: "run.created" }, T0).run);
    const event = (type: "task.submitted" | "task.succeeded", task: string) =>
      type === "task.submitted" ? { type, task, attempt: 1 } : { type, task, attempt: 1, outputs: {} };
    for (const stage of [["unit", "lint", "types"], ["image"], ["deploy"]]) {
      for (const task of stage) run = transition(run, event("task.submitted", task), T0).run;
      run = await stores.runs.saveRun(run);
      for (const task of stage) run = transition(run, event("task.succeeded", task), T0).run;
      if (needsReconciling(run)) run = await stores.runs.saveRun(run);
    }
    // Eight saves while it ran: its head was in `active` only (whose entry is written when its status changes).
    expect(units.get("byPipeline") ?? 0).toBe(0);
    expect(units.get("byTime") ?? 0).toBe(0);
    expect(Object.keys(await rawHead("once"))).not.toContain("gsi1pk");

    // Succeeded, it still owes its Jobs' logs and slots: in `active` until those are delivered.
    expect(run.status).toBe("succeeded");
    expect(needsReconciling(run)).toBe(true);
    const results = run.outbox.map((effect) => ({ key: effect.key }));
    run = transition(run, { type: "outbox.delivered", results }, T0).run;
    expect(needsReconciling(run)).toBe(false);
    const finished = await stores.runs.saveRun(run);
    expect(units.get("byPipeline")).toBe(1);
    expect(units.get("byTime")).toBe(1);
    const head = await rawHead("once");
    expect(head.gsi1pk?.S).toBe("PIPELINE#once");
    expect(head.gsi2pk?.S).toBe("RUNS");
    expect(head.activePk).toBeUndefined();
    expect((await stores.runs.listRuns({ pipeline: "once", limit: 5 })).items).toEqual([finished]);
  });

  it("merges active and finished runs newest first, page by page, with and without filters", async () => {
    // mix: m0..m7, the even ones finished; another pipeline's runs in between, one of each.
    const mix: Run[] = [];
    for (let i = 0; i < 8; i++) {
      const run = await stores.runs.saveRun(runAt(`m${i}`, 100 + i, "mix"));
      mix.push(i % 2 === 0 ? await finish(run) : run);
    }
    await stores.runs.saveRun(runAt("o1", 103.5, "other"));
    await finish(await stores.runs.saveRun(runAt("o2", 104.5, "other")));
    const newestFirst = mix.map((r) => r.id).reverse();

    for (const limit of [1, 2, 3, 8]) {
      const pages = await listAll({ pipeline: "mix", limit });
      expect(pages.flat()).toEqual(newestFirst);
    }
    expect((await stores.runs.listRuns({ pipeline: "mix", limit: 8 })).items).toEqual([...mix].reverse());
    expect((await listAll({ pipeline: "mix", status: "canceled", limit: 3 })).flat()).toEqual([
      "m6",
      "m4",
      "m2",
      "m0",
    ]);
    expect((await listAll({ pipeline: "mix", status: "pending", limit: 1 })).flat()).toEqual([
      "m7",
      "m5",
      "m3",
      "m1",
    ]);
    const everything = (await listAll({ limit: 3 })).flat();
    expect(everything.filter((id) => !id.startsWith("once"))).toEqual([
      "m7",
      "m6",
      "m5",
      "o2",
      "m4",
      "o1",
      "m3",
      "m2",
      "m1",
      "m0",
    ]);
    expect((await listAll({ status: "pending", limit: 2 })).flat()).toEqual(["m7", "m5", "o1", "m3", "m1"]);
  });

  it("lists a head saved before this layout (every index key) once, and moves it at its next save", async () => {
    const run = { ...runAt("old", 300, "old"), version: 3 };
    const spec = specOf(run);
    const order = `${run.createdAt}#${run.id}`;
    await client.send(new PutItemCommand({ TableName: table, Item: specItem(run.id, spec) }));
    const written = runItem(run, spec.hash);
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          ...written,
          gsi1pk: { S: "PIPELINE#old" },
          gsi1sk: { S: order },
          gsi2pk: { S: "RUNS" },
          gsi2sk: { S: order },
          activePk: { S: "ACTIVE" },
          activeSk: { S: order },
        },
      }),
    );
    expect((await stores.runs.listRuns({ pipeline: "old", limit: 5 })).items).toEqual([run]);
    expect((await stores.runs.listRuns({ limit: 1 })).items.map((r) => r.id)).toEqual(["old"]);

    const started = await stores.runs.saveRun(transition(run, { type: "run.created" }, T0).run);
    expect(Object.keys(await rawHead("old"))).not.toContain("gsi2pk");
    expect((await stores.runs.listRuns({ pipeline: "old", limit: 5 })).items).toEqual([started]);
    expect((await stores.runs.activeRuns()).map((r) => r.id)).toContain("old");
  });
});
