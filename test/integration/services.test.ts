import { describe, expect, it } from "vitest";
import { jobNameFor } from "../../core/engine/index.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";

describe("the run service", () => {
  it("keeps both facts when two writers change one run at once", async () => {
    const { service, stores } = await testSystem();
    await stores.runs.saveRun(newRun({ id: "two" }));
    await service.apply("two", [{ type: "run.created" }]);
    await Promise.all([
      service.apply("two", [{ type: "task.started", task: "unit", attempt: 1 }]),
      service.apply("two", [{ type: "task.outputs", task: "lint", attempt: 1, outputs: { LINT: "clean" } }]),
    ]);
    const run = await stores.runs.getRun("two");
    expect(run && taskState(run, "unit").status).toBe("running");
    expect(run && taskState(run, "lint")).toMatchObject({ status: "running", outputs: { LINT: "clean" } });
  });

  it("advances a stage exactly once when 20 parallel tasks complete at the same moment", async () => {
    const runner = new MemoryRunner();
    const { service, stores } = await testSystem({ runner });
    const wide = pipeline({
      name: "wide",
      maxRunningTasks: 20, // all at once: above the default of 10
      stages: [
        { name: "fan", parallel: true, tasks: Array.from({ length: 20 }, (_, i) => runTask(`t${i}`)) },
        { name: "after", tasks: [runTask("next")] },
      ],
    });
    await stores.runs.saveRun(newRun({ id: "wide", pipeline: wide }));
    await service.apply("wide", [{ type: "run.created" }]);
    expect(runner.jobs.size).toBe(20);

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        service.apply("wide", [{ type: "task.succeeded", task: `t${i}`, attempt: 1, outputs: `T${i}=done` }]),
      ),
    );
    expect(results.every((r) => r.ignored[0] === undefined)).toBe(true);
    const run = await stores.runs.getRun("wide");
    expect(run?.stages[0]?.tasks.every((t) => t.status === "succeeded")).toBe(true);
    expect(run && taskState(run, "next")).toMatchObject({
      status: "queued",
      attempt: 1,
      submittedAt: expect.any(String),
    });
    const nextJobs = runner.launchesOf("next");
    expect(nextJobs.map((l) => l.jobName)).toEqual([jobNameFor("wide", "next", 1)]);
    // Submitted once, not merely created once: no second writer ever decided to submit it.
    expect(runner.submitCalls).toBe(21);
    expect(nextJobs[0]?.env).toMatchObject({ T0: "done", T19: "done" });
  });

  it("gives a callback URL and a token of its own to every attempt", async () => {
    const runner = new MemoryRunner();
    const { service, stores } = await testSystem({ runner });
    const tokens = new TaskTokens(TEST_TOKEN_SECRET);
    await stores.runs.saveRun(newRun({ id: "tok" }));
    await service.apply("tok", [{ type: "run.created" }]);
    const launch = runner.launchesOf("unit")[0];
    expect(launch?.env.HOOKFLOW_CALLBACK_URL).toBe("http://127.0.0.1:8787/callbacks/tasks/tok.unit.1");
    expect(launch?.secretEnv.HOOKFLOW_TASK_TOKEN).toBe(
      tokens.tokenFor({ runId: "tok", task: "unit", attempt: 1 }),
    );
    expect(launch?.env).not.toHaveProperty("HOOKFLOW_TASK_TOKEN");
    const presented = launch?.secretEnv.HOOKFLOW_TASK_TOKEN ?? "";
    await expect(tokens.verify({ runId: "tok", task: "unit", attempt: 1 }, presented)).resolves.toBe(true);
    await expect(tokens.verify({ runId: "tok", task: "lint", attempt: 1 }, presented)).resolves.toBe(false);
  });

  it("points the callback URL at HOOKFLOW_CALLBACK_BASE_URL when it is set, the public URL staying for people", async () => {
    const runner = new MemoryRunner();
    const { service, stores, config } = await testSystem({
      runner,
      env: { HOOKFLOW_CALLBACK_BASE_URL: "https://abc123.lambda-url.us-east-1.on.aws/" },
    });
    await stores.runs.saveRun(newRun({ id: "fnurl" }));
    await service.apply("fnurl", [{ type: "run.created" }]);
    expect(runner.launchesOf("unit")[0]?.env.HOOKFLOW_CALLBACK_URL).toBe(
      "https://abc123.lambda-url.us-east-1.on.aws/callbacks/tasks/fnurl.unit.1",
    );
    expect(config.HOOKFLOW_PUBLIC_URL).toBe("http://127.0.0.1:8787");
  });
});
