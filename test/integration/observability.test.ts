import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { emfMetrics as emfAdapter } from "../../core/adapters/metrics.js";
import { jsonLogger } from "../../core/adapters/system.js";
import { PermanentError } from "../../core/errors.js";
import type { Pipeline } from "../../core/model/index.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { type FakeJobView, type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { driveRun } from "../helpers/drive.js";
import { emfMetrics, emfProblems } from "../helpers/emf.js";
import { newRun, pipeline, runTask } from "../helpers/factories.js";
import { SECRETS, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";

/** 1 → 2 parallel → 1, with a robot whose every notification is refused. */
const observed: Pipeline = pipeline({
  name: "observed",
  notify: [{ kind: "webhook", url: "https://hooks.example.com/ci", on: ["run.succeeded"] }],
  stages: [
    { name: "build", tasks: [runTask("compile")] },
    { name: "test", parallel: true, tasks: [runTask("unit"), runTask("lint")] },
    { name: "ship", tasks: [runTask("hold")] },
  ],
});

let fake: FakeKubernetes;
beforeAll(async () => {
  // Every task but `hold` ends by itself; `hold` reports through its callback (below).
  fake = await startFakeKubernetes({
    autoComplete: (job: FakeJobView) =>
      job.labels["hookflow.dev/task"] === "hold" ? undefined : { log: "ok\n" },
    autoCompleteDelayMs: 5,
  });
});
afterAll(() => fake.close());

async function observedSystem() {
  const logLines: string[] = [];
  const emfLines: string[] = [];
  const metrics = emfAdapter("hookflow", (l) => emfLines.push(l));
  // The deployment's logger, as buildBase makes it (the configured secrets masked), writing where the test reads.
  const log = jsonLogger({}, (l) => logLines.push(l), [SECRETS.github, TEST_TOKEN_SECRET, "test-api-token"]);
  const system = await testSystem({
    runner: await createKubernetesRunner({
      kubeconfig: fake.kubeconfig,
      namespace: "ci",
      retryBaseDelayMs: 10,
    }),
    metrics,
    log,
    sender: {
      send: async () => {
        throw new PermanentError(`hooks.example.com refused: 403 (the robot's secret is ${SECRETS.github})`);
      },
    },
  });
  const handler = createSchedulerHandler(system);
  // As lazyHandler does on Lambda: what an invocation measured is written when it ends.
  const invoke: typeof handler = async (event) => {
    try {
      return await handler(event);
    } finally {
      await metrics.flush();
    }
  };
  return { system, handler: invoke, logLines, emfLines, metrics };
}

describe("metrics and logs of a run, as the functions write them", () => {
  it("writes valid EMF for runs, tasks, latencies, queue age and failed notifications, and logs with the run's context", async () => {
    const { system, handler, logLines, emfLines, metrics } = await observedSystem();
    const id = "obs1";
    await system.stores.runs.saveRun(newRun({ id, pipeline: observed }));
    await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
    await driveRun(system, id, {
      handler,
      done: (r) => r.stages[2]?.tasks[0]?.status === "queued" || r.stages[2]?.tasks[0]?.status === "running",
    });

    // `hold` reports success through its own callback: the callback's lines name the task and attempt.
    const tokens = new TaskTokens(TEST_TOKEN_SECRET);
    const callbacks = createCallbackApp(system.callback);
    const answer = await callbacks.request(`/callbacks/tasks/${id}.hold.1`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokens.tokenFor({ runId: id, task: "hold", attempt: 1 })}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ status: "succeeded" }),
    });
    expect(answer.status).toBe(200);
    await metrics.flush();
    const run = await driveRun(system, id, {
      handler,
      done: (r) => r.status === "succeeded" && r.deliveryFailures.length > 0,
    });
    expect(run.status).toBe("succeeded");

    for (const line of emfLines) expect(emfProblems(line)).toEqual([]);
    const points = emfLines.flatMap(emfMetrics);
    const values = (name: string, dimensions: Record<string, string> = {}) =>
      points
        .filter((p) => p.name === name && Object.entries(dimensions).every(([k, v]) => p.dimensions[k] === v))
        .flatMap((p) => p.values);
    expect(values("RunsStarted")).toEqual([1]);
    expect(values("RunsFinished", { Status: "succeeded" })).toEqual([1]);
    expect(values("TaskDuration", { Status: "succeeded" })).toHaveLength(4);
    expect(values("WebhookToSubmitLatency")).toHaveLength(1);
    expect(values("StageAdvanceLatency")).toHaveLength(2);
    expect(values("NotificationFailures", { Kind: "webhook" })).toEqual([1]);
    expect(values("QueueAge").length).toBeGreaterThan(0);
    expect(values("QueueAge").every((age) => age >= 0)).toBe(true);
    expect(points.every((p) => p.namespace === "Hookflow" && p.dimensions.service === "hookflow")).toBe(true);

    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = lines.find((l) => l.message === "delivery failed");
    expect(failed).toMatchObject({ runId: id, kind: "webhook", messageId: expect.any(String) });
    expect(String(failed?.error)).toContain("(the robot's secret is ******)");
    const reported = lines.find(
      (l) => l.message === "run command" && l.commands?.toString() === "task.succeeded",
    );
    expect(reported).toMatchObject({ runId: id, task: "hold", attempt: 1 });
    expect(logLines.join("\n")).not.toContain(SECRETS.github);
  });

  it("names the run, task and attempt on the line of a callback that failed, and on no other request's", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = jsonLogger({}, (l) => lines.push(JSON.parse(l)), [TEST_TOKEN_SECRET]);
    // A table that does not exist: recording the callback fails as a store outage does.
    const system = await testSystem({ log, env: { HOOKFLOW_TABLE: "hookflow-missing-table" } });
    const callbacks = createCallbackApp(system.callback);
    const tokens = new TaskTokens(TEST_TOKEN_SECRET);
    const ref = { runId: "obs2", task: "unit", attempt: 3 };
    const post = (path: string, bearer: string, body: unknown) =>
      callbacks.request(path, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect(
      (await post("/callbacks/tasks/obs2.unit.3", tokens.tokenFor(ref), { status: "running" })).status,
    ).toBe(500);
    const [failed, ...others] = lines;
    expect(others).toEqual([]);
    expect(failed).toMatchObject({
      level: "error",
      message: "request failed",
      path: "/callbacks/tasks/obs2.unit.3",
      runId: "obs2",
      task: "unit",
      attempt: 3,
    });
    // The request's fields stay with the request: the next one, refused before it names an attempt, has none.
    lines.length = 0;
    const api = createApiApp(system.api);
    const answer = await api.request("/api/pipelines", {
      headers: { authorization: "Bearer test-api-token" },
    });
    expect(answer.status).toBe(500);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", message: "request failed", path: "/api/pipelines" });
    expect(Object.keys(lines[0] ?? {})).not.toEqual(expect.arrayContaining(["runId"]));
  });
});
