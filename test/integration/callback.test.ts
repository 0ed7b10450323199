import { beforeAll, describe, expect, it } from "vitest";
import { jobNameFor } from "../../core/engine/index.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createCallbackApp } from "../../functions/callback.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";

type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let runner: MemoryRunner;
let app: ReturnType<typeof createCallbackApp>;
const tokens = new TaskTokens(TEST_TOKEN_SECRET);

const wide = pipeline({
  name: "cb",
  // Runs of this pipeline are left running from test to test: room for all of them (the limit counts across runs).
  maxRunningTasks: 100,
  stages: [
    { name: "fan", parallel: true, tasks: Array.from({ length: 6 }, (_, i) => runTask(`t${i}`)) },
    { name: "after", tasks: [runTask("next")] },
  ],
});

beforeAll(async () => {
  runner = new MemoryRunner();
  system = await testSystem({ runner });
  app = createCallbackApp(system.callback);
});

async function startRun(id: string) {
  await system.stores.runs.saveRun(newRun({ id, pipeline: wide }));
  await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
  await driveRun(system, id, { done: (r) => r.stages[0]?.tasks.every((t) => t.submittedAt) ?? false });
}

function report(
  runId: string,
  task: string,
  attempt: number,
  body: unknown,
  token = tokens.tokenFor({ runId: runId, task: task, attempt: attempt }),
) {
  return app.request(`/callbacks/tasks/${runId}.${task}.${attempt}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("POST /callbacks/tasks/{taskId}", () => {
  it("records running, outputs and success, and the run advances exactly once under concurrent callbacks", async () => {
    await startRun("cbok");
    expect((await report("cbok", "t0", 1, { status: "running", outputs: { EARLY: "yes" } })).status).toBe(
      200,
    );
    let run = await system.stores.runs.getRun("cbok");
    expect(run && taskState(run, "t0")).toMatchObject({ status: "running", outputs: { EARLY: "yes" } });

    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        report("cbok", `t${i}`, 1, { status: "succeeded", outputs: { [`OUT${i}`]: String(i) } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    run = await driveRun(system, "cbok", { done: (r) => taskState(r, "next").submittedAt !== undefined });
    expect(runner.launchesOf("next")).toHaveLength(1);
    expect(runner.launchesOf("next")[0]?.env).toMatchObject({ OUT0: "0", OUT5: "5", EARLY: "yes" });
    expect(runner.submitCalls).toBe(7);
  });

  it("answers 409 for a task already finished, and changes nothing", async () => {
    await startRun("cbterm");
    expect((await report("cbterm", "t1", 1, { status: "failed", message: "exit 1" })).status).toBe(200);
    const before = await system.stores.runs.getRun("cbterm");
    const again = await report("cbterm", "t1", 1, { status: "succeeded" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toMatch(/already failed/);
    expect((await system.stores.runs.getRun("cbterm"))?.version).toBe(before?.version);
  });

  it.each([
    [
      "no token",
      (id: string) => app.request(`/callbacks/tasks/${id}.t2.1`, { method: "POST", body: "{}" }),
      401,
    ],
    ["a forged token", (id: string) => report(id, "t2", 1, { status: "succeeded" }, "forged-token"), 403],
    [
      "another task's token",
      (id: string) =>
        report(id, "t2", 1, { status: "succeeded" }, tokens.tokenFor({ runId: id, task: "t3", attempt: 1 })),
      403,
    ],
    [
      "another attempt's token",
      (id: string) =>
        report(id, "t2", 1, { status: "succeeded" }, tokens.tokenFor({ runId: id, task: "t2", attempt: 2 })),
      403,
    ],
    [
      "another run's token",
      (id: string) =>
        report(
          id,
          "t2",
          1,
          { status: "succeeded" },
          tokens.tokenFor({ runId: "cbok", task: "t2", attempt: 1 }),
        ),
      403,
    ],
    ["an unknown task id", () => report("cbbad", "zz", 1, { status: "succeeded" }), 404],
    [
      "a malformed task id",
      () => app.request("/callbacks/tasks/not-a-task", { method: "POST", body: "{}" }),
      404,
    ],
    ["an invalid status", (id: string) => report(id, "t2", 1, { status: "done" }), 400],
    ["a body that is not JSON", (id: string) => report(id, "t2", 1, "status=done"), 400],
    [
      "an invalid output name",
      (id: string) => report(id, "t2", 1, { status: "running", outputs: { "BAD-NAME": "x" } }),
      400,
    ],
    [
      "outputs over 4 KB",
      (id: string) => report(id, "t2", 1, { status: "succeeded", outputs: { BIG: "x".repeat(4100) } }),
      413,
    ],
    [
      "a body over 64 KB",
      (id: string) => report(id, "t2", 1, { status: "succeeded", message: "m".repeat(70_000) }),
      413,
    ],
  ])("refuses %s, changing nothing", async (_, send, status) => {
    if (!(await system.stores.runs.getRun("cbbad"))) await startRun("cbbad");
    const before = await system.stores.runs.getRun("cbbad");
    const res = await send("cbbad");
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error.length).toBeGreaterThan(5);
    expect((await system.stores.runs.getRun("cbbad"))?.version).toBe(before?.version);
  });

  it("names the path of each invalid field", async () => {
    const res = await report("cbok", "t0", 1, { status: "running", outputs: { OK: 1 }, extra: true });
    const { issues } = (await res.json()) as { issues: Array<{ path: string }> };
    expect(issues.map((i) => i.path).sort()).toEqual(["", "outputs.OK"]);
  });
});

describe("a callback token is bound to its run id, task and attempt", () => {
  // Two runs whose `deploy` Jobs have the same name: the name carries 40 bits of a hash of run and task, and
  // these ids were found to collide in them (a birthday search over 1.6 million ids).
  const [first, second] = ["rwqcv", "ry833"];
  const one = pipeline({ name: "cbbind", stages: [{ name: "only", tasks: [runTask("deploy")] }] });

  async function start(run: ReturnType<typeof newRun>, until: "submitted" | "queued" = "submitted") {
    await system.stores.runs.saveRun(run);
    await system.queue.send([
      { runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` },
    ]);
    await driveRun(system, run.id, {
      done: (r) =>
        until === "queued"
          ? taskState(r, "deploy").status === "queued"
          : taskState(r, "deploy").submittedAt !== undefined,
    });
  }
  const tokenGiven = (runId: string) => tokens.tokenFor({ runId, task: "deploy", attempt: 1 });

  it("refuses the token of another run whose Job name is the same, and the Job-name form for a new run", async () => {
    expect(jobNameFor(first, "deploy", 1)).toBe(jobNameFor(second, "deploy", 1));
    await start(newRun({ id: first, pipeline: one }));
    // The runner refuses a second launch under a name in use (its contract), so `second` stays queued: its
    // callback is what this test is about.
    await start(newRun({ id: second, pipeline: one }), "queued");
    const before = await system.stores.runs.getRun(second);
    expect(runner.launchesOf("deploy").find((l) => l.runId === first)?.secretEnv.HOOKFLOW_TASK_TOKEN).toBe(
      tokenGiven(first),
    );

    const previousForm = tokens.previousReleaseTokenFor({ runId: second, task: "deploy", attempt: 1 });
    for (const token of [tokenGiven(first), previousForm])
      expect((await report(second, "deploy", 1, { status: "succeeded" }, token)).status).toBe(403);
    expect((await system.stores.runs.getRun(second))?.version).toBe(before?.version);
    expect((await report(second, "deploy", 1, { status: "succeeded" }, tokenGiven(second))).status).toBe(200);
  });

  it("accepts the Job-name token the previous release gave for a run that release created, and only for that attempt", async () => {
    const { tokens: _, ...previousRelease } = newRun({ id: "cbprev", pipeline: one });
    await start(previousRelease);
    const previousForm = (attempt: number, task = "deploy") =>
      tokens.previousReleaseTokenFor({ runId: "cbprev", task, attempt });
    expect((await report("cbprev", "deploy", 1, { status: "running" }, previousForm(2))).status).toBe(403);
    expect(
      (await report("cbprev", "deploy", 1, { status: "running" }, previousForm(1, "other"))).status,
    ).toBe(403);
    expect((await report("cbprev", "deploy", 1, { status: "succeeded" }, previousForm(1))).status).toBe(200);
    expect((await system.stores.runs.getRun("cbprev"))?.tokens).toBeUndefined();
  });
});
