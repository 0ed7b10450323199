import { type AttributeValue, GetItemCommand, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../core/adapters/dynamo/items.js";
import { runItem } from "../../core/adapters/dynamo/run-items.js";
import type { Stores } from "../../core/adapters/dynamo/store.js";
import { transition } from "../../core/engine/index.js";
import { RetryableError, ValidationError, VersionConflictError } from "../../core/errors.js";
import type { Run } from "../../core/model/index.js";
import { RunRecorder } from "../../core/services/commands.js";
import { freshStore, recordRequests } from "../helpers/aws.js";
import { at, jobTemplate, newRun, pipeline, T0 } from "../helpers/factories.js";

let stores: Stores;
let ctx: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  ctx = await freshStore({ deliveryTtlSeconds: 3600 });
  stores = ctx.stores;
});

const runAt = (id: string, seconds: number, name = "web-app"): Run => ({
  ...newRun({ id, pipeline: pipeline({ name }) }),
  createdAt: at(seconds),
});

describe("runs", () => {
  it("are created once and then saved only on the version they were read at", async () => {
    const created = await stores.runs.saveRun(newRun({ id: "v1" }));
    expect(created.version).toBe(1);
    await expect(stores.runs.saveRun(newRun({ id: "v1" }))).rejects.toBeInstanceOf(VersionConflictError);

    const started = transition(created, { type: "run.created" }, T0).run;
    const saved = await stores.runs.saveRun(started);
    expect(saved.version).toBe(2);
    const stale = transition(created, { type: "cancel.requested" }, T0).run;
    const conflict = await stores.runs.saveRun(stale).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(VersionConflictError);
    expect((conflict as VersionConflictError<Run>).current?.status).toBe("running");
    expect(await stores.runs.getRun("v1")).toEqual(saved);
  });

  it("keep task reports beside the run: folded in on reading, the same one found again, a second ending refused", async () => {
    let run = await stores.runs.saveRun(newRun({ id: "rep1" }));
    run = transition(run, { type: "run.created" }, T0).run;
    for (const task of ["unit", "lint"])
      run = transition(run, { type: "task.submitted", task, attempt: 1 }, T0).run;
    const saved = await stores.runs.saveRun(run);
    const succeeded = {
      event: { type: "task.succeeded" as const, task: "unit", attempt: 1, outputs: { A: "1" } },
      at: at(5),
    };
    const started = { event: { type: "task.started" as const, task: "lint", attempt: 1 }, at: at(4) };
    expect(await stores.runs.addReport("rep1", succeeded)).toEqual({ recorded: true });
    expect(await stores.runs.addReport("rep1", started)).toEqual({ recorded: true });
    // The same report again finds itself; another ending of the same attempt finds the first one.
    expect(await stores.runs.addReport("rep1", { ...succeeded, at: at(9) })).toEqual({
      recorded: false,
      existing: succeeded,
    });
    const failed = {
      event: { type: "task.failed" as const, task: "unit", attempt: 1, message: "no" },
      at: at(6),
    };
    expect(await stores.runs.addReport("rep1", failed)).toEqual({ recorded: false, existing: succeeded });

    // The head was not written: its version is as saved; a reader sees the reports folded in, in receipt order.
    const loaded = await stores.runs.loadRun("rep1");
    expect(loaded?.unsaved).toBe(true);
    expect(loaded?.run.version).toBe(saved.version);
    expect(loaded?.saved).toEqual(saved);
    const tasks = loaded?.run.stages[0]?.tasks ?? [];
    expect(tasks.find((t) => t.name === "unit")).toMatchObject({ status: "succeeded", outputs: { A: "1" } });
    expect(tasks.find((t) => t.name === "lint")?.status).toBe("running");
    // Once saved, the fold is kept; folding the same reports again changes nothing.
    const kept = await stores.runs.saveRun(loaded?.run as Run);
    expect(await stores.runs.loadRun("rep1")).toEqual({ run: kept, saved: kept, unsaved: false });
  });

  it("store what changes apart from the spec, compressed, and read a run stored whole as JSON by an older release", async () => {
    const saved = await stores.runs.saveRun(newRun({ id: "zip1" }));
    const { Item } = await ctx.client.send(
      new GetItemCommand({ TableName: ctx.table, Key: { pk: { S: "RUN#zip1" }, sk: { S: "RUN" } } }),
    );
    expect(Item?.doc?.B).toBeInstanceOf(Uint8Array);
    expect(Item?.doc?.B?.byteLength).toBeLessThan(JSON.stringify(saved).length / 4);
    const spec = await ctx.client.send(
      new GetItemCommand({
        TableName: ctx.table,
        Key: { pk: { S: "RUN#zip1" }, sk: { S: `SPEC#${Item?.spec?.S}` } },
      }),
    );
    expect(spec.Item?.doc?.B).toBeInstanceOf(Uint8Array);
    // Listed through an index, a run comes back whole: its spec is read beside it.
    expect((await stores.runs.listRuns({ pipeline: saved.pipeline, limit: 100 })).items).toContainEqual(
      saved,
    );
    const { version, ...doc } = saved;
    const { spec: _, ...head } = Item as Record<string, AttributeValue>;
    const older: Record<string, AttributeValue> = {
      ...head,
      pk: { S: "RUN#zip2" },
      doc: { S: JSON.stringify({ ...doc, id: "zip2" }) },
      schema: { N: "2" },
    };
    await ctx.client.send(new PutItemCommand({ TableName: ctx.table, Item: older }));
    expect(await stores.runs.getRun("zip2")).toEqual({ ...saved, id: "zip2" });
  });

  it("page by pipeline, newest first, with opaque cursors and a status filter", async () => {
    for (let i = 0; i < 7; i++) await stores.runs.saveRun(runAt(`p${i}`, i, "paged"));
    await stores.runs.saveRun(runAt("other", 100, "other-pipeline"));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await stores.runs.listRuns({ pipeline: "paged", limit: 3, cursor });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toEqual(["p6", "p5", "p4", "p3", "p2", "p1", "p0"]);

    const running = transition((await stores.runs.getRun("p2")) as Run, { type: "run.created" }, T0).run;
    await stores.runs.saveRun(running);
    const filtered = await stores.runs.listRuns({ pipeline: "paged", status: "running", limit: 5 });
    expect(filtered.items.map((r) => r.id)).toEqual(["p2"]);
    const all = await stores.runs.listRuns({ limit: 2 });
    expect(all.items[0]?.id).toBe("other");
    await expect(stores.runs.listRuns({ limit: 2, cursor: "not-a-cursor" })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it("leave the active index when they finish, and can be found by concurrency group", async () => {
    const grouped = {
      ...newRun({ id: "g1", pipeline: pipeline({ concurrency: { group: "deploy-${GIT_BRANCH}" } }) }),
      createdAt: at(500),
    };
    const saved = await stores.runs.saveRun(grouped);
    expect((await stores.runs.activeRuns("github:acme/web-app:deploy-main")).map((r) => r.id)).toEqual([
      "g1",
    ]);
    const canceled = transition(saved, { type: "cancel.requested" }, T0).run;
    await stores.runs.saveRun(canceled);
    expect(await stores.runs.activeRuns("github:acme/web-app:deploy-main")).toEqual([]);
    expect((await stores.runs.activeRuns()).map((r) => r.id)).not.toContain("g1");
  });
});

describe("webhook deliveries", () => {
  it("create each run once: a run whose id exists is not written again", async () => {
    const runs = [newRun({ id: "d1a" }), newRun({ id: "d1b", pipeline: pipeline({ name: "second" }) })];
    expect(await stores.deliveries.createRuns(runs)).toEqual([true, true]);
    const started = transition((await stores.runs.getRun("d1a")) as Run, { type: "run.created" }, T0).run;
    await stores.runs.saveRun(started);
    expect(await stores.deliveries.createRuns([newRun({ id: "d1a" }), newRun({ id: "d1c" })])).toEqual([
      false,
      true,
    ]);
    expect((await stores.runs.getRun("d1a"))?.status).toBe("running");
  });
});

describe("definitions", () => {
  it("are stored, listed and deleted by name", async () => {
    await stores.definitions.putPipeline(pipeline({ name: "defs-a" }), T0);
    await stores.definitions.putJob(jobTemplate({ name: "defs-job" }), T0);
    expect((await stores.definitions.getPipeline("defs-a"))?.value.name).toBe("defs-a");
    expect((await stores.definitions.listPipelines()).map((p) => p.value.name)).toContain("defs-a");
    expect((await stores.definitions.listJobs()).map((j) => j.value.name)).toEqual(["defs-job"]);
    expect(await stores.definitions.deleteJob("defs-job")).toBe(true);
    expect(await stores.definitions.deleteJob("defs-job")).toBe(false);
    expect(await stores.definitions.getJob("defs-job")).toBeUndefined();
  });
});

describe("the sent ledger and rate limits", () => {
  it("lets one sender claim a key, and another only after the first's lease ran out", async () => {
    expect(await stores.ledger.claim("k1", T0, 60)).toBe(true);
    expect(await stores.ledger.claim("k1", at(30), 60)).toBe(false);
    expect(await stores.ledger.claim("k1", at(61), 60)).toBe(true);
    await stores.ledger.complete("k1", at(62));
    expect(await stores.ledger.claim("k1", at(10_000), 60)).toBe(false);
    expect(await stores.ledger.claim("k2", T0, 60)).toBe(true);
    await stores.ledger.release("k2");
    expect(await stores.ledger.claim("k2", T0, 60)).toBe(true);
  });

  it("counts per window", async () => {
    const limit = { max: 2, perSeconds: 60 };
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await stores.limiter.acquire("robot", limit, at(i)));
    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(results[2]).toMatchObject({ retryAfterSeconds: 58 });
    expect((await stores.limiter.acquire("robot", limit, at(60))).ok).toBe(true);
  });
});

describe("a conflicting write", () => {
  it("carries the run as stored, so re-applying after it costs no read", async () => {
    const { client, stores: counted } = await freshStore();
    const created = await counted.runs.saveRun(newRun({ id: "cf1" }));
    const started = await counted.runs.saveRun(transition(created, { type: "run.created" }, T0).run);
    const sent = recordRequests(client);

    const conflict = await counted.runs
      .saveRun(transition(created, { type: "cancel.requested" }, T0).run)
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(VersionConflictError);
    expect((conflict as VersionConflictError<Run>).current).toEqual(started);
    expect(sent).toEqual(["PutItem"]);

    sent.length = 0;
    const recorder = new RunRecorder({ runs: counted.runs, clock: { now: () => at(5) } });
    const recorded = await recorder.record("cf1", [{ type: "cancel.requested" }], created);
    // Version 3: the events were applied to version 2, the run as the refusal carried it.
    expect(recorded.run.version).toBe(3);
    // The stale write, then the write on the run the refusal carried: no GetItem between them.
    expect(sent).toEqual(["PutItem", "PutItem"]);
  });
});

describe("rate-limit counters", () => {
  it("are keyed by a hash of the key: no item's key holds the robot URL or its token", async () => {
    const url = "https://oapi.dingtalk.com/robot/send?access_token=tok-5ecret-value";
    expect((await stores.limiter.acquire(`rate:${url}`, { max: 1, perSeconds: 60 }, T0)).ok).toBe(true);
    expect((await stores.limiter.acquire(`rate:${url}`, { max: 1, perSeconds: 60 }, at(1))).ok).toBe(false);
    const { Items = [] } = await ctx.client.send(new ScanCommand({ TableName: ctx.table }));
    const rate = Items.filter((i) => i.pk?.S?.startsWith("RATE#"));
    expect(rate.map((i) => i.pk?.S)).toContain(`RATE#${sha256Hex(`rate:${url}`)}`);
    for (const item of Items) expect(JSON.stringify(item)).not.toMatch(/tok-5ecret-value|dingtalk/);
  });
});

describe("delivered bodies", () => {
  const claim = (id: string, runs: Run[], receivedAt: string, provider: "github" | "gitea" = "github") => ({
    provider,
    sha256: "a".repeat(64),
    delivery: { id, runs: runs.map((r) => ({ id: r.id, pipeline: r.pipeline })), receivedAt },
  });
  const partition = async (runId: string) => {
    const { Items = [] } = await ctx.client.send(new ScanCommand({ TableName: ctx.table }));
    return Items.filter((i) => i.pk?.S === `RUN#${runId}`).map((i) => i.sk?.S?.replace(/#.*/, ""));
  };

  it("are held by the first delivery id that brought them, until the delivery TTL passes", async () => {
    const [r1, r2, r3, r4, r5] = [1, 2, 3, 4, 5].map((n) => newRun({ id: `b${n}` })) as [
      Run,
      Run,
      Run,
      Run,
      Run,
    ];
    const first = claim("first", [r1], T0);
    expect(await stores.deliveries.createDeliveredRuns([r1], first)).toEqual({ created: [true] });
    const second = claim("second", [r2], at(10));
    expect(await stores.deliveries.createDeliveredRuns([r2], second)).toEqual({ heldBy: first.delivery });
    // The refused delivery's run left nothing: its spec, written beside the claim, is deleted again.
    expect(await partition("b2")).toEqual([]);
    // The same body on another provider's endpoint is another body.
    expect(await stores.deliveries.createDeliveredRuns([r2], claim("second", [r2], at(10), "gitea"))).toEqual(
      { created: [true] },
    );
    // The first delivery id again (the git host's redelivery) holds it still, with the runs it names now.
    const again = claim("first", [r1, r3], at(20));
    expect(await stores.deliveries.createDeliveredRuns([r1, r3], again)).toEqual({
      created: [false, true],
    });
    expect(await partition("b1")).toEqual(["RUN", "SPEC"]);
    expect(await stores.deliveries.createDeliveredRuns([r4], claim("second", [r4], at(30)))).toEqual({
      heldBy: again.delivery,
    });
    expect(await partition("b4")).toEqual([]);
    // A replay whose run's spec another call stored (the same id brings the same spec) leaves that spec alone.
    await stores.deliveries.createRuns([r5]);
    expect(await stores.deliveries.createDeliveredRuns([r5], claim("third", [r5], at(40)))).toEqual({
      heldBy: again.delivery,
    });
    expect(await partition("b5")).toEqual(["RUN", "SPEC"]);
    // Past the TTL (3600 s here), the body is new again.
    const later = claim("later", [r4], at(20 + 3601));
    expect(await stores.deliveries.createDeliveredRuns([r4], later)).toEqual({ created: [true] });
  });
});

describe("upgrades", () => {
  it("writes schema 3 on every item", async () => {
    const { client, table, stores: fresh } = await freshStore();
    const run = await fresh.runs.saveRun(newRun({ id: "s1" }));
    await fresh.runs.saveRun(transition(run, { type: "run.created" }, T0).run);
    await fresh.runs.addReport("s1", { event: { type: "task.started", task: "build", attempt: 1 }, at: T0 });
    await fresh.deliveries.createRuns([newRun({ id: "s2" })]);
    await fresh.deliveries.createDeliveredRuns([], {
      provider: "github",
      sha256: "b".repeat(64),
      delivery: { id: "d", runs: [], receivedAt: T0 },
    });
    await fresh.definitions.putPipeline(pipeline({ name: "s-pipe" }), T0);
    await fresh.definitions.putJob(jobTemplate({ name: "s-job" }), T0);
    await fresh.ledger.claim("s-sent", T0, 60);
    await fresh.ledger.complete("s-sent", T0);
    await fresh.ledger.claim("s-claimed", T0, 60);
    await fresh.limiter.acquire("s-rate", { max: 5, perSeconds: 60 }, T0);
    const { Items = [] } = await client.send(new ScanCommand({ TableName: table }));
    expect(Items.map((i) => i.pk?.S?.replace(/#.*/, "")).sort()).toEqual(
      // A definition is its current item and one per version saved.
      // A run is its head and, beside it, its spec and one item per task report: s1 three, s2 two.
      [
        "BODY",
        "JOB",
        "JOB",
        "PIPELINE",
        "PIPELINE",
        "RATE",
        "RUN",
        "RUN",
        "RUN",
        "RUN",
        "RUN",
        "SENT",
        "SENT",
      ].sort(),
    );
    for (const item of Items) expect(item.schema, item.pk?.S).toEqual({ N: "3" });
  });

  it("reads items the first release wrote (no schema attribute), and writes them back as schema 3", async () => {
    const { client, table, stores: old } = await freshStore({ deliveryTtlSeconds: 3600 });
    const put = (Item: Record<string, AttributeValue>) =>
      client.send(new PutItemCommand({ TableName: table, Item }));
    const S = (s: string) => ({ S: s });
    const N = (n: number) => ({ N: String(n) });
    // Exactly what the first release's DynamoStore wrote.
    const run = {
      ...newRun({ id: "old1", pipeline: pipeline({ concurrency: { group: "old-group" } }) }),
      createdAt: T0,
    };
    const { version: _, ...doc } = { ...run, version: 4 };
    const order = `${T0}#old1`;
    await put({
      pk: S("RUN#old1"),
      sk: S("RUN"),
      doc: S(JSON.stringify(doc)),
      version: N(4),
      id: S("old1"),
      pipeline: S(run.pipeline),
      status: S(run.status),
      createdAt: S(T0),
      gsi1pk: S(`PIPELINE#${run.pipeline}`),
      gsi1sk: S(order),
      gsi2pk: S("RUNS"),
      gsi2sk: S(order),
      activePk: S("ACTIVE"),
      activeSk: S(order),
      concurrencyGroup: S("old-group"),
    });
    const oldPipeline = pipeline({ name: "old-pipe" });
    await put({
      pk: S("PIPELINE#old-pipe"),
      sk: S("PIPELINE"),
      doc: S(JSON.stringify(oldPipeline)),
      updatedAt: S(T0),
      gsi1pk: S("PIPELINES"),
      gsi1sk: S("old-pipe"),
    });
    const oldJob = jobTemplate({ name: "old-job" });
    await put({
      pk: S("JOB#old-job"),
      sk: S("JOB"),
      doc: S(JSON.stringify(oldJob)),
      updatedAt: S(T0),
      gsi1pk: S("JOBS"),
      gsi1sk: S("old-job"),
    });
    const nowSeconds = Math.floor(Date.parse(T0) / 1000);
    await put({
      pk: S("SENT#old-claim"),
      sk: S("SENT"),
      state: S("claimed"),
      leaseUntil: N(nowSeconds + 60),
      expiresAt: N(nowSeconds + 3600),
    });

    expect(await old.runs.getRun("old1")).toEqual({ ...run, version: 4 });
    expect((await old.runs.listRuns({ pipeline: run.pipeline, limit: 5 })).items).toEqual([
      { ...run, version: 4 },
    ]);
    expect((await old.runs.listRuns({ limit: 5 })).items.map((r) => r.id)).toEqual(["old1"]);
    expect(await old.runs.activeRuns("old-group")).toEqual([
      {
        id: "old1",
        pipeline: run.pipeline,
        status: run.status,
        createdAt: T0,
        concurrencyGroup: "old-group",
      },
    ]);
    // Saved before versions were kept: version 0.
    expect(await old.definitions.getPipeline("old-pipe")).toEqual({
      value: oldPipeline,
      updatedAt: T0,
      version: 0,
    });
    expect(await old.definitions.listJobs()).toEqual([{ value: oldJob, updatedAt: T0, version: 0 }]);
    expect(await old.ledger.claim("old-claim", at(30), 60)).toBe(false);
    expect(await old.ledger.claim("old-claim", at(61), 60)).toBe(true);

    const saved = await old.runs.saveRun(transition({ ...run, version: 4 }, { type: "run.created" }, T0).run);
    expect(saved.version).toBe(5);
    const { Item } = await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: S("RUN#old1"), sk: S("RUN") } }),
    );
    expect(Item?.schema).toEqual({ N: "3" });
  });

  it("refuses an item of a newer schema than it reads, rather than misread it", async () => {
    const { client, table, stores: fresh } = await freshStore();
    const item = { ...runItem({ ...newRun({ id: "future" }), version: 1 }), schema: { N: "4" } };
    await client.send(new PutItemCommand({ TableName: table, Item: item }));
    const refused = fresh.runs.getRun("future");
    await expect(refused).rejects.toThrow(/schema 4; this release reads 1 to 3/);
    // Retryable: while a deploy is under way, the work comes back once every function runs the newer code.
    await expect(refused).rejects.toBeInstanceOf(RetryableError);
  });
});
