import { beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "../../functions/api.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";

type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let api: ReturnType<typeof createApiApp>;

const flow = pipeline({
  name: "flow",
  stages: [
    {
      name: "build",
      parallel: true,
      tasks: [runTask("unit"), runTask("lint", { ignoreFailed: true }), runTask("pack", { needs: ["unit"] })],
    },
  ],
  finally: [runTask("report")],
});

beforeAll(async () => {
  // Every Job succeeds at once, but lint's: it runs until someone cancels it.
  const runner = new MemoryRunner();
  runner.onSubmit = (launch) => {
    if (launch.task !== "lint") runner.set(launch.jobName, { state: "succeeded" });
  };
  system = await testSystem({ runner });
  api = createApiApp(system.api);
  await system.stores.definitions.putPipeline(flow, new Date().toISOString());
});

function call(method: string, path: string, body?: unknown) {
  return api.request(path, {
    method,
    headers: { authorization: "Bearer test-api-token", "content-type": "application/json" },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

async function startRun(id: string) {
  await system.stores.runs.saveRun(newRun({ id, pipeline: flow }));
  await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
  await driveRun(system, id, { done: (r) => taskState(r, "unit").submittedAt !== undefined });
}

describe("flow through the API", () => {
  it("refuses a cycle and an unknown need at apply, with the path of each, storing nothing", async () => {
    const res = await call("PUT", "/api/pipelines/loops", {
      name: "loops",
      stages: [
        {
          name: "s",
          parallel: true,
          tasks: [runTask("a", { needs: ["b"] }), runTask("b", { needs: ["a"] })],
        },
      ],
      finally: [runTask("f", { needs: ["ghost"] })],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: Array<{ path: string; message: string }> };
    expect(body.issues).toEqual([
      { path: "finally[0].needs[0]", message: 'no task "ghost" in this pipeline' },
    ]);
    const cycle = await call("PUT", "/api/pipelines/loops", {
      name: "loops",
      stages: [
        {
          name: "s",
          parallel: true,
          tasks: [runTask("a", { needs: ["b"] }), runTask("b", { needs: ["a"] })],
        },
      ],
    });
    expect(((await cycle.json()) as { issues: unknown[] }).issues).toEqual([
      { path: "stages[0].tasks[0].needs", message: "a cycle: a → b → a" },
    ]);
    expect(await system.stores.definitions.getPipeline("loops")).toBeUndefined();
  });

  it("cancels one task (404 unknown, 409 twice, 400 bad body); ignoreFailed absorbs it", async () => {
    await startRun("flowcancel");
    expect((await call("POST", "/api/runs/flowcancel/tasks/ghost/cancel", {})).status).toBe(404);
    const bad = await call("POST", "/api/runs/flowcancel/tasks/lint/cancel", { by: 5 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual([
      "by",
    ]);
    const res = await call("POST", "/api/runs/flowcancel/tasks/lint/cancel", { by: "carol" });
    expect(res.status).toBe(200);
    const view = (await res.json()) as {
      status: string;
      stages: Array<{ tasks: Array<{ name: string; status: string }> }>;
    };
    expect(view.stages[0]?.tasks.find((t) => t.name === "lint")?.status).toBe("canceled");
    expect(view.status).toBe("running");
    const again = await call("POST", "/api/runs/flowcancel/tasks/lint/cancel", {});
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ reason: "TaskTerminal" });
    const done = await driveRun(system, "flowcancel", { timeoutMs: 20_000 });
    expect(done.status).toBe("succeeded");
    expect(done.stages.map((s) => s.tasks.map((t) => [t.name, t.status]))).toEqual([
      [
        ["unit", "succeeded"],
        ["lint", "canceled"],
        ["pack", "succeeded"],
      ],
      [["report", "succeeded"]],
    ]);
  });

  it("reruns one task with its downstream, keeping the earlier attempt readable; refuses bad rerun bodies", async () => {
    for (const [body, path] of [
      [{ downstream: true }, "downstream"],
      [{ task: "unit", failedOnly: true }, "failedOnly"],
      [{ task: "Not A Name" }, "task"],
    ] as const) {
      const res = await call("POST", "/api/runs/flowcancel/rerun", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual([
        path,
      ]);
    }
    expect((await call("POST", "/api/runs/flowcancel/rerun", { task: "ghost" })).status).toBe(404);
    const res = await call("POST", "/api/runs/flowcancel/rerun", { task: "unit", downstream: true });
    expect(res.status).toBe(200);
    const view = (await res.json()) as {
      round: number;
      stages: Array<{
        finally?: boolean;
        tasks: Array<{ name: string; status: string; history?: unknown[] }>;
      }>;
    };
    expect(view.round).toBe(1);
    expect(view.stages[1]?.finally).toBe(true);
    const [unit, lint, pack] = view.stages[0]?.tasks ?? [];
    expect(unit?.history).toEqual([
      expect.objectContaining({ attempt: 1, round: 0, status: "succeeded", jobName: expect.any(String) }),
    ]);
    expect([unit?.status, lint?.status, pack?.status]).toEqual(["queued", "canceled", "pending"]);
    const done = await driveRun(system, "flowcancel", { timeoutMs: 20_000 });
    expect(done.status).toBe("succeeded");
    expect(taskState(done, "pack")).toMatchObject({ status: "succeeded", attempt: 2 });
    expect(taskState(done, "report").history?.map((h) => h.round)).toEqual([0]);
    expect((await call("GET", "/api/runs/flowcancel/tasks/unit/logs?attempt=9")).status).toBe(404);
  });

  it("treats a finally task's job template like any task's: masked, kept when written back, snapshotted, in use", async () => {
    const job = {
      name: "announce",
      params: [{ name: "TOKEN", sensitive: true }],
      template: {
        apiVersion: "batch/v1",
        kind: "Job",
        spec: {
          template: {
            spec: { restartPolicy: "Never", containers: [{ name: "a", image: "alpine", command: ["true"] }] },
          },
        },
      },
    };
    expect((await call("PUT", "/api/jobs/announce", job)).status).toBe(201);
    const definition = {
      name: "flowjobs",
      stages: [{ name: "s", tasks: [runTask("unit")] }],
      finally: [{ name: "tell", job: "announce", params: { TOKEN: "s3cret-value" } }],
    };
    expect((await call("PUT", "/api/pipelines/flowjobs", definition)).status).toBe(201);
    const shown = (await (await call("GET", "/api/pipelines/flowjobs")).json()) as typeof definition;
    expect(shown.finally[0]?.params.TOKEN).toBe("******");
    expect((await call("PUT", "/api/pipelines/flowjobs", shown)).status).toBe(200);
    const stored = await system.stores.definitions.getPipeline("flowjobs");
    expect(stored?.value.finally[0]?.params?.TOKEN).toBe("s3cret-value");
    expect((await call("DELETE", "/api/jobs/announce")).status).toBe(409);
    const started = await call("POST", "/api/pipelines/flowjobs/runs", {});
    expect(started.status).toBe(201);
    const { id } = (await started.json()) as { id: string };
    expect(Object.keys((await system.stores.runs.getRun(id))?.jobs ?? {})).toEqual(["announce"]);
  });
});
