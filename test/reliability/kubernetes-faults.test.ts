import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";

let fake: FakeKubernetes;
beforeAll(async () => {
  fake = await startFakeKubernetes({ autoComplete: () => ({ log: "ok\n" }) });
});
afterAll(() => fake.close());

async function systemOnFake() {
  const runner = await createKubernetesRunner({
    kubeconfig: fake.kubeconfig,
    namespace: "ci",
    retryBudgetMs: 400,
    // Above a healthy answer on a loaded machine, so that only the injected delays time out.
    requestTimeoutMs: 1000,
    retryBaseDelayMs: 10,
  });
  return testSystem({ runner, visibilityTimeoutSeconds: 1 });
}

async function start(system: Awaited<ReturnType<typeof systemOnFake>>, id: string, timeoutSeconds?: number) {
  const p = pipeline({
    name: id,
    stages: [{ name: "s", tasks: [runTask("build", timeoutSeconds ? { timeoutSeconds } : {})] }],
  });
  await system.stores.runs.saveRun(newRun({ id, pipeline: p }));
  await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
}

describe("Kubernetes API faults", () => {
  it.each([
    ["500s", { status: 500 }],
    ["429s", { status: 429, retryAfterSeconds: 0 }],
    ["answers slower than the request timeout", { delayMs: 3000 }],
  ])(
    "are retried until they pass: %s",
    async (name, fault) => {
      fake.clearFaults();
      const system = await systemOnFake();
      const id = `kf${name.slice(0, 3).replace(/\D/g, "") || "slow"}`;
      fake.injectFault({ method: "POST", pathIncludes: "/jobs", times: 3, ...fault });
      await start(system, id);
      const run = await driveRun(system, id, { timeoutMs: 45_000 });
      expect(run.status).toBe("succeeded");
      expect(taskState(run, "build").attempt).toBe(1);
    },
    60_000,
  );

  it("that never pass fail the task with a message naming them, and leave nothing running", async () => {
    fake.clearFaults();
    const system = await systemOnFake();
    fake.injectFault({
      method: "POST",
      pathIncludes: "/jobs",
      status: 500,
      message: "etcdserver: request timed out",
      times: 10_000,
    });
    await start(system, "kfdown", 2);
    const run = await driveRun(system, "kfdown", { timeoutMs: 30_000, reconcileEveryMs: 300 });
    fake.clearFaults();
    expect(run.status).toBe("failed");
    const build = taskState(run, "build");
    expect(build.status).toBe("failed");
    expect(build.message).toMatch(/timed out after 2s; submission failing, retrying: .*(500|etcdserver)/);
    expect(
      run.stages.flatMap((s) => s.tasks).some((t) => t.status === "running" || t.status === "queued"),
    ).toBe(false);
  }, 60_000);

  it("while observing leave timeouts working: a task behind an unreachable API still ends", async () => {
    fake.clearFaults();
    const system = await systemOnFake();
    await start(system, "kfobs", 2);
    await driveRun(system, "kfobs", { done: (r) => taskState(r, "build").submittedAt !== undefined });
    fake.injectFault({ method: "GET", status: 503, times: 10_000 });
    fake.injectFault({ method: "DELETE", status: 503, times: 10_000 });
    const run = await driveRun(system, "kfobs", {
      timeoutMs: 30_000,
      reconcileEveryMs: 300,
      done: (r) => r.status !== "running" && r.status !== "pending",
    });
    fake.clearFaults();
    expect(["succeeded", "failed"]).toContain(run.status);
    if (run.status === "failed") expect(taskState(run, "build").message).toMatch(/timed out/);
  }, 60_000);
});
