import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { jobNameFor } from "../../core/engine/index.js";
import type { Run } from "../../core/model/index.js";
import { type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";

let fake: FakeKubernetes;
beforeAll(async () => {
  fake = await startFakeKubernetes({ autoComplete: () => ({ terminationMessage: "DONE=yes" }) });
});
afterAll(() => fake.close());

describe("a scheduler that dies", () => {
  it("after submitting a Job and before saving: the message comes back, and there is exactly one Job and a finished run", async () => {
    const runner = await createKubernetesRunner({
      kubeconfig: fake.kubeconfig,
      namespace: "ci",
      retryBudgetMs: 500,
      retryBaseDelayMs: 10,
    });
    const system = await testSystem({ runner, visibilityTimeoutSeconds: 1 });
    const p = pipeline({
      name: "crashy",
      stages: [
        { name: "one", tasks: [runTask("build")] },
        { name: "two", tasks: [runTask("ship")] },
      ],
    });
    await system.stores.runs.saveRun(newRun({ id: "crash1", pipeline: p }));
    await system.queue.send([
      { runId: "crash1", event: { type: "run.created" }, dedupKey: "created:crash1" },
    ]);

    // The process "dies" at the first save after a Job was submitted: that save never happens.
    const save = system.stores.runs.saveRun.bind(system.stores.runs);
    let died = false;
    system.stores.runs.saveRun = async (run: Run) => {
      if (!died && fake.jobs().length > 0) {
        died = true;
        throw new Error("killed: the scheduler's process ended here");
      }
      return save(run);
    };

    const run = await driveRun(system, "crash1", { timeoutMs: 45_000 });
    expect(died).toBe(true);
    expect(run.status).toBe("succeeded");
    const created = fake
      .requestsTo("POST", "/jobs")
      .filter((r) => JSON.stringify(r.body).includes(jobNameFor("crash1", "build", 1)));
    expect(created.filter((r) => r.status === 201)).toHaveLength(1);
    // One Job per task was created (hookflow deletes each once its log is archived, so count creations).
    const jobs = fake
      .requestsTo("POST", "/jobs")
      .filter((r) => r.status === 201 && JSON.stringify(r.body).includes('"hookflow.dev/run":"crash1"'));
    expect(jobs).toHaveLength(2);
    expect(taskState(run, "build")).toMatchObject({ attempt: 1, outputs: { DONE: "yes" } });
  }, 60_000);
});
