import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLocalRunner, type LocalRunner } from "../../core/adapters/local-runner.js";
import { silentLogger } from "../../core/adapters/system.js";
import { loadConfig } from "../../core/config.js";
import { callbackTaskId } from "../../core/engine/index.js";
import { apiDeps, buildBase, callbackDeps, schedulerDeps } from "../../core/wiring.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { type RunningEmulator, startDynamoLocal } from "../../infra/local/emulators.js";
import { readSecrets } from "../../infra/local/secrets.js";
import { freshBucket, freshQueue } from "../helpers/aws.js";
import { driveRun } from "../helpers/drive.js";
import { PUBLIC_URL } from "../helpers/system.js";

/**
 * Upgrades with runs in flight: test/fixtures/upgrade/data is the data directory of the previous release's
 * local stack (made by make-fixture.ts from the commit fixture.json names) holding one run in flight: `gate`
 * waits for approval, `reported` and `observed` ended without the control plane seeing it. This release, on a
 * copy of that directory, must read the old items, accept the token the old release gave `reported`, observe
 * `observed` under the Job name the old release chose, and take the run to its end.
 */
const FIXTURE = join(import.meta.dirname, "../fixtures/upgrade");
const fixture = JSON.parse(readFileSync(join(FIXTURE, "fixture.json"), "utf8")) as {
  release: string;
  runId: string;
  reportedToken: string;
};

let dataDir: string;
let dynamo: RunningEmulator;
let runner: LocalRunner;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hookflow-upgrade-test-"));
  cpSync(join(FIXTURE, "data"), dataDir, { recursive: true });
  dynamo = await startDynamoLocal({ dataDir: join(dataDir, "dynamodb") });
}, 120_000); // a JVM's start on a loaded machine
afterAll(async () => {
  await runner?.stopAll();
  await dynamo?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe(`upgrading from ${fixture.release} with a run in flight`, () => {
  it("finishes the run the previous release started", async () => {
    const secrets = readSecrets(dataDir);
    if (!secrets) throw new Error("the fixture has no secrets.json");
    const queues = await freshQueue();
    const config = loadConfig({
      HOOKFLOW_TABLE: "hookflow",
      HOOKFLOW_QUEUE_URL: queues.workUrl,
      HOOKFLOW_DYNAMODB_ENDPOINT: dynamo.endpoint,
      HOOKFLOW_SQS_ENDPOINT: inject("sqsEndpoint"),
      HOOKFLOW_PUBLIC_URL: PUBLIC_URL,
      HOOKFLOW_TOKEN_SECRET: secrets.tokenSecret,
      HOOKFLOW_API_TOKEN: "upgrade-api-token",
      HOOKFLOW_ROLES: JSON.stringify({ viewer: ["alice"] }),
      HOOKFLOW_DATA_DIR: dataDir,
      // The log archive came after the fixture's release: the upgraded scheduler archives into a new bucket.
      HOOKFLOW_S3_ENDPOINT: inject("s3Endpoint"),
      HOOKFLOW_LOG_BUCKET: await freshBucket(),
    });
    runner = createLocalRunner({ dataDir: join(dataDir, "runner") });
    // This test's clock goes on from just after the fixture was captured, so that no timeout of the old run has
    // elapsed however long ago the fixture was made (its tasks have the default one-hour timeout).
    let offsetMs = 0;
    const clock = { now: () => new Date(Date.now() + offsetMs).toISOString() };
    const overrides = {
      clock,
      log: silentLogger,
      runner,
      sender: { send: async () => {} },
      commitStatus: { enabledFor: () => false, report: async () => {} },
    };
    const base = buildBase(config, overrides);
    const scheduling = await schedulerDeps(base, overrides);

    // The old release's items read as they are.
    const before = await base.stores.runs.getRun(fixture.runId);
    if (!before) throw new Error(`the fixture has no run ${fixture.runId}`);
    const captured = Math.max(
      Date.parse(before.createdAt),
      ...before.stages
        .flatMap((s) => s.tasks)
        .map((t) => Date.parse(t.submittedAt ?? t.queuedAt ?? before.createdAt)),
    );
    offsetMs = captured + 1000 - Date.now();
    expect(before?.stages[0]?.tasks.map((t) => [t.name, t.status])).toEqual([
      ["reported", "queued"],
      ["observed", "queued"],
      ["gate", "waiting"],
    ]);
    // Its head carries every index's keys: listed once, by pipeline and among all runs.
    const listed = async (query: { pipeline?: string; status?: "running" | "succeeded" }) =>
      (await base.stores.runs.listRuns({ ...query, limit: 10 })).items.map((r) => [r.id, r.status]);
    expect(await listed({ pipeline: before.pipeline })).toEqual([[fixture.runId, "running"]]);
    expect(await listed({ status: "running" })).toEqual([[fixture.runId, "running"]]);

    // The token the old release gave a task is accepted.
    const callbacks = createCallbackApp(callbackDeps(base));
    const reported = await callbacks.request(
      `/callbacks/tasks/${callbackTaskId(fixture.runId, "reported", 1)}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${fixture.reportedToken}`, "content-type": "application/json" },
        body: JSON.stringify({ status: "succeeded", outputs: { REPORTED: "yes" } }),
      },
    );
    expect(reported.status, await reported.clone().text()).toBe(200);

    const api = createApiApp(apiDeps(base, overrides));
    // An approval is a person's: alice's token, made by the bootstrap token (no sign-in here).
    const made = await api.request("/api/tokens", {
      method: "POST",
      headers: { authorization: "Bearer upgrade-api-token", "content-type": "application/json" },
      body: JSON.stringify({ name: "alice", for: "alice" }),
    });
    const aliceToken = ((await made.json()) as { token: string }).token;
    const approved = await api.request(`/api/runs/${fixture.runId}/tasks/gate/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" },
      body: JSON.stringify({ by: "alice" }),
    });
    expect(approved.status, await approved.clone().text()).toBe(200);

    // `observed` is seen under its old Job name; `final` sees both tasks' outputs.
    const system = { ...base, ...scheduling, queues };
    const run = await driveRun(system as unknown as Parameters<typeof driveRun>[0], fixture.runId, {
      timeoutMs: 60_000,
    });
    const tasks = Object.fromEntries(run.stages.flatMap((s) => s.tasks).map((t) => [t.name, t]));
    expect(run.status, JSON.stringify(tasks)).toBe("succeeded");
    expect(tasks.observed?.outputs).toEqual({ BUILT: "old-release" });
    expect(tasks.reported?.outputs).toEqual({ REPORTED: "yes" });
    const final = tasks.final;
    expect(final?.attempt).toBe(1);
    const log = await runner.logs({
      runId: fixture.runId,
      task: "final",
      attempt: 1,
      jobName: final?.jobName as string,
    });
    expect(log).toContain("final saw old-release");
    // Rewritten in this release's form when it ended: listed once, as it ended.
    expect(await listed({ pipeline: before.pipeline })).toEqual([[fixture.runId, "succeeded"]]);
    expect(await listed({ status: "running" })).toEqual([]);
  });
});
