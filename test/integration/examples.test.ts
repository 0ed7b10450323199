import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { parsePipeline } from "../../core/model/parse.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createCallbackApp } from "../../functions/callback.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");

describe("examples/report.sh", () => {
  let server: ServerType;
  let url: string;
  let system: Awaited<ReturnType<typeof testSystem>>;
  const tokens = new TaskTokens(TEST_TOKEN_SECRET);

  beforeAll(async () => {
    system = await testSystem();
    const app = createCallbackApp(system.callback);
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
        url = `http://127.0.0.1:${info.port}`;
        resolve();
      });
    });
    await system.stores.runs.saveRun(
      newRun({
        id: "report",
        pipeline: pipeline({ stages: [{ name: "s", tasks: [runTask("a"), runTask("b")] }] }),
      }),
    );
    await system.recorder.record("report", [{ type: "run.created" }]);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const report = (task: string, ...args: string[]) =>
    promisify(execFile)("sh", [join(EXAMPLES, "report.sh"), ...args], {
      env: {
        PATH: process.env.PATH,
        HOOKFLOW_CALLBACK_URL: `${url}/callbacks/tasks/report.${task}.1`,
        HOOKFLOW_TASK_TOKEN: tokens.tokenFor({ runId: "report", task: task, attempt: 1 }),
      },
    });

  it("reports outputs, quotes and all, then success, in one line each", async () => {
    await report("a", "running", 'NOTE=say "hi"\\there', "EMPTY=");
    await report("a", "succeeded", "IMAGE_DIGEST=sha256:0123");
    const run = await system.stores.runs.getRun("report");
    expect(run && taskState(run, "a")).toMatchObject({
      status: "succeeded",
      outputs: { NOTE: 'say "hi"\\there', EMPTY: "", IMAGE_DIGEST: "sha256:0123" },
    });
    // Sent again, as curl --retry-all-errors does after a lost answer: accepted, and nothing changes.
    await report("a", "succeeded", "IMAGE_DIGEST=sha256:0123");
    expect((await system.stores.runs.getRun("report"))?.version).toBe(run?.version);
  });

  it("reports a failure with its message, and exits non-zero when hookflow refuses", async () => {
    await report("b", "failed", "tests failed: 3 of 12");
    const run = await system.stores.runs.getRun("report");
    expect(run && taskState(run, "b")).toMatchObject({ status: "failed", message: "tests failed: 3 of 12" });
    await expect(report("b", "succeeded")).rejects.toMatchObject({ code: 22 });
  });
});

describe("examples/flow.yaml on the local process runner", () => {
  let dataDir: string;
  let runner: ReturnType<typeof createLocalRunner>;
  let system: Awaited<ReturnType<typeof testSystem>>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "hookflow-flow-example-"));
    runner = createLocalRunner({ dataDir });
    system = await testSystem({ runner });
  });
  afterAll(async () => {
    await runner.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const logOf = (runId: string, task: string, attempt: number, jobName: string) =>
    runner.logs({ runId, task, attempt, jobName });

  it("runs its graph and finally task, then one task again with what follows it, keeping the first attempt", async () => {
    const parsed = await parsePipeline(readFileSync(join(EXAMPLES, "flow.yaml"), "utf8"));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    await system.stores.runs.saveRun(newRun({ id: "flowexample", pipeline: parsed.value }));
    await system.recorder.record("flowexample", [{ type: "run.created" }]);
    const done = await driveRun(system, "flowexample", { timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");
    const pack = taskState(done, "package");
    expect(await logOf(done.id, "package", 1, pack.jobName ?? "")).toMatch(/^packaging app-\S+\.tgz\n$/);
    const report = taskState(done, "report");
    expect(await logOf(done.id, "report", 1, report.jobName ?? "")).toBe(
      "run flowexample ended: succeeded\n",
    );

    await system.recorder.record("flowexample", [
      { type: "rerun.requested", task: "unit", downstream: true },
    ]);
    const again = await driveRun(system, "flowexample", { timeoutMs: 60_000 });
    expect(again).toMatchObject({ status: "succeeded", round: 1 });
    expect(
      ["compile", "unit", "docs", "package", "publish", "report"].map((t) => taskState(again, t).attempt),
    ).toEqual([1, 2, 1, 2, 2, 2]);
    const first = taskState(again, "unit").history?.[0];
    expect(first).toMatchObject({ attempt: 1, round: 0, status: "succeeded" });
    expect(await logOf(again.id, "unit", 1, first?.jobName ?? "")).toContain("12 tests passed");
  });
});
