import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { loadKubeconfig } from "../../core/adapters/kubernetes/client.js";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { silentLogger } from "../../core/adapters/system.js";
import { jobNameFor } from "../../core/engine/index.js";
import type { Run } from "../../core/model/index.js";
import type { Logger } from "../../core/ports.js";
import { Relay, type RelayReport } from "../../core/relay/relay.js";
import { httpReporter } from "../../core/relay/report.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { type FakeKubernetes, readManifests, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { PUBLIC_URL, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";

/**
 * The relay against the fake API server and the real callback route: every report reaches the run through the
 * command seam with the relay as the actor. The reconciler ticks once at the start and never again, and no
 * follow-up wake-ups are configured, so whatever the run learns after a Job was submitted, it learns from the
 * relay.
 */

const NAMESPACE = "ci";
const RELAY_TOKEN = "relay-token-0123456789abcdef";
const NEVER = 1e9;

type System = Awaited<ReturnType<typeof testSystem>>;
interface Command {
  runId: string;
  commands: string[];
  actor: { kind: string };
  outcome: string;
}

let fake: FakeKubernetes;
let system: System;
let app: ReturnType<typeof createCallbackApp>;
const commands: Command[] = [];

const log: Logger = {
  ...silentLogger,
  info: (message, fields) => {
    if (message === "run command") commands.push(fields as unknown as Command);
  },
};

beforeAll(async () => {
  fake = await startFakeKubernetes({ startDelayMs: "manual", namespace: NAMESPACE });
  const runner = await createKubernetesRunner({
    kubeconfig: fake.kubeconfig,
    namespace: NAMESPACE,
    retryBudgetMs: 300,
    requestTimeoutMs: 2000,
    retryBaseDelayMs: 10,
  });
  system = await testSystem({ runner, log, env: { HOOKFLOW_RELAY_TOKEN: RELAY_TOKEN } });
  app = createCallbackApp(system.callback);
});

afterAll(() => fake.close());

/** A relay reporting to the callback app in-process; `delivered` counts the reports hookflow answered. */
async function startRelay() {
  const delivered: RelayReport[] = [];
  const report = httpReporter({
    url: PUBLIC_URL,
    token: RELAY_TOKEN,
    log: silentLogger,
    fetch: (input, init) => Promise.resolve(app.request(String(input), init)),
  });
  const relay = new Relay({
    kubeconfig: loadKubeconfig({ kubeconfig: fake.kubeconfig }),
    namespace: NAMESPACE,
    log: silentLogger,
    report: async (r) => {
      await report(r);
      delivered.push(r);
    },
    resyncMs: 50,
    restartDelayMs: 20,
  });
  await relay.start();
  onTestFinished(() => relay.stop());
  return { relay, delivered };
}

const twoStages = pipeline({
  name: "relayed",
  stages: [
    { name: "build", tasks: [runTask("build")] },
    { name: "deploy", tasks: [runTask("deploy")] },
  ],
});

async function startRun(id: string): Promise<Run> {
  await system.stores.runs.saveRun(newRun({ id, pipeline: twoStages }));
  await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
  return until(id, (r) => Boolean(taskState(r, "build").submittedAt));
}

const until = (id: string, done: (run: Run) => boolean) =>
  driveRun(system, id, { done, reconcileEveryMs: NEVER, timeoutMs: 8_000 });

const fromRelay = (id: string) => commands.filter((c) => c.runId === id && c.actor.kind === "relay");

describe("hookflow relay", () => {
  it("reports running, then success with the termination message's outputs, and the next stage starts", async () => {
    await startRelay();
    const id = "relayok";
    await startRun(id);
    const build = jobNameFor(id, "build", 1);
    fake.start(build);
    await until(id, (r) => taskState(r, "build").status === "running");
    fake.complete(build, { terminationMessage: "VERSION=1.2.3" });
    const run = await until(id, (r) => Boolean(taskState(r, "deploy").submittedAt));
    expect(taskState(run, "build")).toMatchObject({ status: "succeeded", outputs: { VERSION: "1.2.3" } });
    expect(fake.job(jobNameFor(id, "deploy", 1))).toBeDefined();
    // The driver's one reconcile may see the pod running before the relay does (then the relay's "running" only
    // records that it watches the attempt); the end, after that reconcile, only the relay can have reported.
    expect(
      fromRelay(id)
        .filter((c) => !c.commands.includes("task.started"))
        .map((c) => [c.commands, c.outcome]),
    ).toEqual([[["task.succeeded"], "accepted"]]);
  });

  it("reports a pod that can never start as a failure naming its cause", async () => {
    await startRelay();
    const id = "relaybad";
    await startRun(id);
    fake.containerWaiting(jobNameFor(id, "build", 1), { reason: "InvalidImageName" });
    const run = await until(id, (r) => taskState(r, "build").status === "failed");
    expect(taskState(run, "build").message).toMatch(/container "task" cannot start: InvalidImageName/);
    expect(fromRelay(id).map((c) => c.commands)).toEqual([["task.failed"]]);
  });

  it("does not fail a task whose pod was evicted: the Job reruns the pod and its success is reported", async () => {
    await startRelay();
    const id = "relayevict";
    await startRun(id);
    const build = jobNameFor(id, "build", 1);
    fake.start(build);
    await until(id, (r) => taskState(r, "build").status === "running");
    fake.evict(build);
    fake.start(build);
    fake.complete(build, { terminationMessage: "AFTER=evict" });
    const run = await until(id, (r) => Boolean(taskState(r, "deploy").submittedAt));
    expect(taskState(run, "build")).toMatchObject({ status: "succeeded", attempt: 1 });
    expect(fromRelay(id).flatMap((c) => c.commands)).not.toContain("task.failed");
  });

  it("relists after its watch expired (410 Gone) and reports what it missed", async () => {
    await startRelay();
    const id = "relaygone";
    await startRun(id);
    const build = jobNameFor(id, "build", 1);
    const lists = () => fake.requestsTo("GET", "/jobs").filter((r) => r.query.watch === undefined).length;
    const listsBefore = lists();
    const goneBefore = fake.watches.expiredAnswers;
    // The watch ends, the Job completes while nothing watches, and the history it would resume from is gone.
    fake.closeWatches();
    fake.complete(build, { terminationMessage: "SEEN=after-relist" });
    fake.expireWatchHistory();
    const run = await until(id, (r) => taskState(r, "build").status === "succeeded");
    expect(taskState(run, "build").outputs).toEqual({ SEEN: "after-relist" });
    expect(lists()).toBeGreaterThan(listsBefore);
    expect(fake.watches.expiredAnswers).toBeGreaterThan(goneBefore);
  });

  it("a restarted relay reports again what it finds, and the run does not change", async () => {
    const first = await startRelay();
    const id = "relayagain";
    await startRun(id);
    const build = jobNameFor(id, "build", 1);
    fake.start(build);
    await until(id, (r) => taskState(r, "build").status === "running");
    fake.complete(build, { terminationMessage: "ONCE=1" });
    // build's log is archived and its Job then deleted, so the Job the restarted relay finds is deploy's, running
    // (a pending Job is not worth a report).
    await until(id, (r) => Boolean(taskState(r, "deploy").submittedAt));
    const deploy = jobNameFor(id, "deploy", 1);
    fake.start(deploy);
    const before = await until(
      id,
      (r) => taskState(r, "deploy").status === "running" && (taskState(r, "build").logs ?? []).length > 0,
    );
    await first.relay.stop();
    const second = await startRelay();
    await expect
      .poll(() => second.delivered.filter((r) => r.jobName === deploy).length, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const after = await system.stores.runs.getRun(id);
    expect(after?.version).toBe(before.version);
    expect(after?.stages).toEqual(before.stages);
    expect(
      fromRelay(id)
        .filter((c) => c.outcome === "accepted")
        .flatMap((c) => c.commands),
    ).toEqual(["task.started", "task.succeeded", "task.started"]);
  });
});

describe("the relay's Role (infra/kubernetes/relay.yaml)", () => {
  it("is enough to watch and report a Job's end, and grants no Secret, no write", async () => {
    const scheduler = "scheduler-token-1";
    const relayAccount = "relay-account-token-1";
    const rbacFake = await startFakeKubernetes({
      startDelayMs: "manual",
      namespace: "hookflow",
      authorization: {
        objects: readManifests(join(import.meta.dirname, "..", "..", "infra", "kubernetes")),
        serviceAccounts: {
          [scheduler]: "hookflow/hookflow-scheduler",
          [relayAccount]: "hookflow/hookflow-relay",
        },
      },
    });
    onTestFinished(() => rbacFake.close());
    const runner = await createKubernetesRunner({
      kubeconfig: rbacFake.kubeconfigWith(scheduler),
      namespace: "hookflow",
    });
    const seen: RelayReport[] = [];
    const relay = new Relay({
      kubeconfig: loadKubeconfig({ kubeconfig: rbacFake.kubeconfigWith(relayAccount) }),
      namespace: "hookflow",
      log: silentLogger,
      report: async (r) => {
        seen.push(r);
      },
    });
    await relay.start();
    onTestFinished(() => relay.stop());
    const jobName = jobNameFor("rbacrun", "build", 1);
    await runner.submit({
      runId: "rbacrun",
      pipeline: "p",
      task: "build",
      attempt: 1,
      jobName,
      timeoutSeconds: 600,
      env: {},
      secretEnv: { HOOKFLOW_TASK_TOKEN: "t" },
      source: { kind: "run", image: "node:22", command: ["true"] },
    });
    rbacFake.start(jobName);
    rbacFake.complete(jobName, { terminationMessage: "A=1" });
    await expect.poll(() => seen.map((r) => r.observation.state), { timeout: 10_000 }).toContain("succeeded");
    expect(seen.find((r) => r.observation.state === "succeeded")?.observation.terminationMessage).toBe("A=1");
    expect(rbacFake.requests.filter((r) => r.status === 403)).toEqual([]);
    const asRelay = await createKubernetesRunner({
      kubeconfig: rbacFake.kubeconfigWith(relayAccount),
      namespace: "hookflow",
      retryBudgetMs: 100,
    });
    await expect(asRelay.cancel({ runId: "rbacrun", task: "build", attempt: 1, jobName })).rejects.toThrow(
      /403|forbidden|Forbidden/,
    );
  });
});

describe("the relay's token", () => {
  const tokens = new TaskTokens(TEST_TOKEN_SECRET);
  const relayReport = (body: unknown, token = RELAY_TOKEN) =>
    app.request("/callbacks/relay", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const report = (id: string, task: string, attempt: number, jobName = jobNameFor(id, task, attempt)) => ({
    jobName,
    runId: id,
    task,
    attempt,
    observation: { state: "succeeded", terminationMessage: "X=1" },
  });

  it("is refused on a task's callback and on the API", async () => {
    const id = "relaytok";
    await startRun(id);
    const task = await app.request(`/callbacks/tasks/${id}.build.1`, {
      method: "POST",
      headers: { authorization: `Bearer ${RELAY_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ status: "succeeded", outputs: { X: "1" } }),
    });
    expect(task.status).toBe(403);
    const api = createApiApp(system.api);
    const runs = await api.request(`/api/runs/${id}`, {
      headers: { authorization: `Bearer ${RELAY_TOKEN}` },
    });
    expect(runs.status).toBe(401);
    const run = await system.stores.runs.getRun(id);
    expect(run && taskState(run, "build").status).toBe("queued");
  });

  it("alone opens the relay's route: a task's token is refused there", async () => {
    const id = "relaytok2";
    await startRun(id);
    const answer = await relayReport(
      report(id, "build", 1),
      tokens.tokenFor({ runId: id, task: "build", attempt: 1 }),
    );
    expect(answer.status).toBe(401);
    expect((await relayReport(report(id, "build", 1), "")).status).toBe(401);
  });

  it("refuses a report whose Job is not the named task's, and changes nothing", async () => {
    const id = "relaytok3";
    await startRun(id);
    const other = jobNameFor("someotherrun", "build", 1);
    const answer = await relayReport(report(id, "build", 1, other));
    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain("is not attempt 1 of task");
    const wrongAttempt = await relayReport(report(id, "build", 1, jobNameFor(id, "build", 2)));
    expect(wrongAttempt.status).toBe(403);
    const run = await system.stores.runs.getRun(id);
    expect(run && taskState(run, "build").status).toBe("queued");
  });

  it("refuses a malformed report with the path of each field", async () => {
    const answer = await relayReport({ jobName: "X", runId: "r", task: "b", attempt: 0, observation: {} });
    expect(answer.status).toBe(400);
    const text = await answer.text();
    for (const path of ["jobName", "attempt", "observation.state"]) expect(text).toContain(path);
  });

  it("is refused everywhere when no relay is configured", async () => {
    const bare = await testSystem({ env: {} });
    const bareApp = createCallbackApp(bare.callback);
    const answer = await bareApp.request("/callbacks/relay", {
      method: "POST",
      headers: { authorization: `Bearer ${RELAY_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(report("x", "build", 1)),
    });
    expect(answer.status).toBe(403);
  });
});
