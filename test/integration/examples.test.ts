import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobNameFor } from "../../core/engine/index.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createCallbackApp } from "../../functions/callback.js";
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
        HOOKFLOW_TASK_TOKEN: tokens.tokenFor(jobNameFor("report", task, 1)),
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
