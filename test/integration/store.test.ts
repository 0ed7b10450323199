import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import type { Stores } from "../../core/adapters/dynamo/store.js";
import { transition } from "../../core/engine/index.js";
import { ValidationError, VersionConflictError } from "../../core/errors.js";
import type { Run } from "../../core/model/index.js";
import { freshStore } from "../helpers/aws.js";
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
    expect((await stores.runs.activeRuns("deploy-main")).map((r) => r.id)).toEqual(["g1"]);
    const canceled = transition(saved, { type: "cancel.requested" }, T0).run;
    await stores.runs.saveRun(canceled);
    expect(await stores.runs.activeRuns("deploy-main")).toEqual([]);
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

  it("are recorded run by run, any number of times, and read back", async () => {
    const now = new Date().toISOString();
    await stores.deliveries.noteDelivery("github", "abc", { id: "r2", pipeline: "second" }, now);
    await stores.deliveries.noteDelivery("github", "abc", { id: "r1", pipeline: "first" }, now);
    await stores.deliveries.noteDelivery("github", "abc", { id: "r1", pipeline: "first" }, now);
    expect(await stores.deliveries.getDelivery("github", "abc")).toEqual({
      provider: "github",
      id: "abc",
      receivedAt: now,
      runs: [
        { id: "r1", pipeline: "first" },
        { id: "r2", pipeline: "second" },
      ],
    });
    expect(await stores.deliveries.getDelivery("gitlab", "abc")).toBeUndefined();
  });

  it("expire: a TTL attribute is set, and an expired record no longer counts", async () => {
    await stores.deliveries.noteDelivery(
      "github",
      "old",
      { id: "x", pipeline: "p" },
      "2026-01-01T00:00:00.000Z",
    );
    const { Item } = await ctx.client.send(
      new GetItemCommand({
        TableName: ctx.table,
        Key: { pk: { S: "DELIVERY#github#old" }, sk: { S: "DELIVERY" } },
      }),
    );
    expect(Number(Item?.expiresAt?.N)).toBe(Date.parse("2026-01-01T00:00:00.000Z") / 1000 + 3600);
    expect(await stores.deliveries.getDelivery("github", "old")).toBeUndefined();
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
