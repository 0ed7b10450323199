import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { jobNameFor } from "../../core/engine/index.js";
import { BOOTSTRAP_TOKEN, type Pipeline, type Run } from "../../core/model/index.js";
import type { Logger } from "../../core/ports.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { type FakeJobView, type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { driveRun, summary } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";

/** build → test (parallel) → ship; compile reports outputs that deploy reads. */
const threeStages: Pipeline = pipeline({
  name: "three",
  stages: [
    {
      name: "build",
      tasks: [
        runTask("compile", {
          run: {
            image: "alpine",
            command: [
              "sh",
              "-c",
              'printf "VERSION=1.2.3\\nDIGEST=sha256:abc\\n" > "${HOOKFLOW_TERMINATION_LOG:-/dev/termination-log}"',
            ],
          },
        }),
      ],
    },
    { name: "test", parallel: true, tasks: [runTask("unit"), runTask("lint"), runTask("e2e")] },
    {
      name: "ship",
      tasks: [
        runTask("deploy", { run: { image: "alpine", command: ["sh", "-c", 'echo "deploying $VERSION"'] } }),
      ],
    },
  ],
});

/** The cluster plays each task: compile writes outputs to its termination message, "fail-*" tasks fail. */
function play(job: FakeJobView) {
  const task = job.labels["hookflow.dev/task"] ?? "";
  if (task === "compile") return { terminationMessage: "VERSION=1.2.3\nDIGEST=sha256:abc" };
  if (task.startsWith("fail"))
    return { fail: { reason: "BackoffLimitExceeded" as const, exitCode: 2 }, log: "boom\n" };
  if (task.startsWith("hang")) return undefined;
  return { log: `ran ${task}\n` };
}

let fake: FakeKubernetes;
beforeAll(async () => {
  fake = await startFakeKubernetes({ autoComplete: play, autoCompleteDelayMs: 5 });
});
afterAll(() => fake.close());

async function withFakeCluster(log?: Logger) {
  const runner = await createKubernetesRunner({
    kubeconfig: fake.kubeconfig,
    namespace: "ci",
    retryBudgetMs: 500,
    // Far above a healthy answer on a loaded machine: only injected faults fail a request.
    requestTimeoutMs: 5000,
    retryBaseDelayMs: 10,
  });
  return testSystem({ runner, ...(log && { log }) });
}

async function started(system: Awaited<ReturnType<typeof testSystem>>, run: Run) {
  await system.stores.runs.saveRun(run);
  await system.queue.send([{ runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` }]);
}

type Manifest = { metadata: { name: string; labels: Record<string, string> } };
/** The Jobs created for a run (hookflow deletes each once its log is archived, so count creations). */
const createdJobsOf = (runId: string) =>
  fake.requests
    .filter((r) => r.method === "POST" && r.path.endsWith("/jobs") && r.status === 201)
    .map((r) => (r.body as Manifest).metadata)
    .filter((m) => m.labels["hookflow.dev/run"] === runId);
const jobsOf = (runId: string) =>
  (fake.jobs() as unknown as Manifest[])
    .filter((j) => j.metadata.labels["hookflow.dev/run"] === runId)
    .map((j) => j.metadata);

describe("the scheduler on a Kubernetes cluster", () => {
  it("runs a 3-stage pipeline with a parallel middle stage to success, with no callback at all", async () => {
    const system = await withFakeCluster();
    await started(system, newRun({ id: "k3stage", pipeline: threeStages }));
    const run = await driveRun(system, "k3stage");
    expect(summary(run)?.status).toBe("succeeded");
    expect(run.stages.flatMap((s) => s.tasks).every((t) => t.status === "succeeded" && t.attempt === 1)).toBe(
      true,
    );
    expect(createdJobsOf("k3stage")).toHaveLength(5);
    // Outputs of the termination message reached the next stages' env.
    expect(taskState(run, "compile").outputs).toEqual({ VERSION: "1.2.3", DIGEST: "sha256:abc" });
    // The Job is gone (deleted once its log was archived): its env as it was created.
    const deploy = fake.requests.find(
      (r) =>
        r.method === "POST" && (r.body as Manifest).metadata?.name === jobNameFor("k3stage", "deploy", 1),
    )?.body as {
      spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
    };
    const env = Object.fromEntries(
      (deploy.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      VERSION: "1.2.3",
      DIGEST: "sha256:abc",
      HOOKFLOW_TASK: "deploy",
    });
    // Stages in order: every test Job was created after compile finished, deploy after all of them.
    const created = (task: string) =>
      fake.requests.findIndex(
        (r) =>
          r.method === "POST" &&
          r.path.endsWith("/jobs") &&
          JSON.stringify(r.body).includes(`"hookflow.dev/task":"${task}"`),
      );
    expect(created("unit")).toBeGreaterThan(created("compile"));
    expect(created("deploy")).toBeGreaterThan(Math.max(created("unit"), created("lint"), created("e2e")));
  });

  it("creates each Job exactly once when every message is delivered twice", async () => {
    const system = await withFakeCluster();
    const once = createSchedulerHandler(system);
    const twice = async (event: Parameters<typeof once>[0]) => {
      await once(event);
      return once(event);
    };
    await started(system, newRun({ id: "ktwice", pipeline: threeStages }));
    const run = await driveRun(system, "ktwice", { handler: twice });
    expect(run.status).toBe("succeeded");
    const creates = fake
      .requestsTo("POST", "/jobs")
      .filter((r) => JSON.stringify(r.body).includes('"hookflow.dev/run":"ktwice"'));
    expect(creates.filter((r) => r.status === 201)).toHaveLength(5);
    expect(createdJobsOf("ktwice")).toHaveLength(5);
  });

  it("retries a failing task as a new Job, then fails the run", async () => {
    const system = await withFakeCluster();
    const p = pipeline({
      name: "retry",
      stages: [
        { name: "s", tasks: [runTask("fail-once", { retries: 1 })] },
        { name: "after", tasks: [runTask("never")] },
      ],
    });
    await started(system, newRun({ id: "kretry", pipeline: p }));
    const run = await driveRun(system, "kretry");
    expect(run.status).toBe("failed");
    expect(taskState(run, "fail-once")).toMatchObject({ status: "failed", attempt: 2 });
    expect(taskState(run, "fail-once").message).toMatch(/exit(ed with)? code 2/);
    expect(
      createdJobsOf("kretry")
        .map((j) => j.name)
        .sort(),
    ).toEqual([jobNameFor("kretry", "fail-once", 1), jobNameFor("kretry", "fail-once", 2)].sort());
    expect(taskState(run, "never").status).toBe("skipped");
  });

  it("fails a task that runs past its timeout, saying so", async () => {
    const system = await withFakeCluster();
    const p = pipeline({
      name: "slow",
      stages: [{ name: "s", tasks: [runTask("hang-forever", { timeoutSeconds: 1 })] }],
    });
    await started(system, newRun({ id: "ktimeout", pipeline: p }));
    const run = await driveRun(system, "ktimeout", { timeoutMs: 45_000 });
    expect(run.status).toBe("failed");
    expect(taskState(run, "hang-forever").message).toMatch(/deadline|timed out/);
  });

  it("deletes running Jobs when the run is canceled", async () => {
    const system = await withFakeCluster();
    const p = pipeline({
      name: "cancel",
      stages: [{ name: "s", parallel: true, tasks: [runTask("hang-a"), runTask("hang-b")] }],
    });
    await started(system, newRun({ id: "kcancel", pipeline: p }));
    await driveRun(system, "kcancel", {
      done: (r) => r.stages[0]?.tasks.every((t) => t.status === "running") ?? false,
    });
    expect(jobsOf("kcancel")).toHaveLength(2);
    await system.commands.handle("kcancel", { type: "cancel.requested", by: "carol" }, BOOTSTRAP_TOKEN);
    const run = await driveRun(system, "kcancel", { done: (r) => r.outbox.length === 0 });
    expect(run.status).toBe("canceled");
    expect(jobsOf("kcancel")).toHaveLength(0);
    const deletes = fake.requestsTo("DELETE", "/jobs/hf-hang");
    expect(deletes.length).toBeGreaterThanOrEqual(2);
    expect(
      deletes.every(
        (r) =>
          JSON.stringify(r.query).includes("Background") || JSON.stringify(r.body).includes("Background"),
      ),
    ).toBe(true);
  });
});

describe("the scheduler on the local runner", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "hookflow-local-"));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("runs the same pipeline to success, outputs included", async () => {
    const runner = createLocalRunner({ dataDir });
    const system = await testSystem({ runner });
    await started(system, newRun({ id: "local3", pipeline: threeStages }));
    const run = await driveRun(system, "local3", { timeoutMs: 30_000 });
    expect(summary(run)?.status).toBe("succeeded");
    expect(taskState(run, "compile").outputs).toEqual({ VERSION: "1.2.3", DIGEST: "sha256:abc" });
    expect(
      await runner.logs({
        runId: "local3",
        task: "deploy",
        attempt: 1,
        jobName: jobNameFor("local3", "deploy", 1),
      }),
    ).toContain("deploying 1.2.3");
    await runner.stopAll();
  });
});

describe("concurrency groups through the scheduler", () => {
  const grouped = (cancelInProgress: boolean) =>
    pipeline({
      name: "grouped",
      concurrency: { group: "${GIT_REPOSITORY}/${GIT_BRANCH}", cancelInProgress },
      stages: [{ name: "s", tasks: [runTask("hang-work")] }],
    });
  const at = (id: string, seconds: number, p: Pipeline) => ({
    ...newRun({ id, pipeline: p }),
    createdAt: new Date(Date.UTC(2026, 10, 23, 10, 0, seconds)).toISOString(),
  });

  it("cancels the older run of the group when the newer one has cancelInProgress", async () => {
    const lines: Array<{ message: string } & Record<string, unknown>> = [];
    const capture: Logger = {
      info: (message, fields) => lines.push({ message, ...fields }),
      warn: (message, fields) => lines.push({ message, ...fields }),
      error: (message, fields) => lines.push({ message, ...fields }),
    };
    const system = await withFakeCluster(capture);
    await started(system, at("gold", 0, grouped(true)));
    await driveRun(system, "gold", { done: (r) => r.status === "running" });
    await started(system, at("gnew", 1, grouped(true)));
    const newer = await driveRun(system, "gnew", { done: (r) => r.status === "running" });
    expect(newer.status).toBe("running");
    const older = await driveRun(system, "gold", {
      done: (r) => r.outbox.length === 0 && r.status === "canceled",
    });
    expect(older).toMatchObject({
      status: "canceled",
      reason: "CanceledByNewerRun",
      message: "canceled by newer run gnew",
    });
    expect(jobsOf("gold")).toHaveLength(0);
    // The cancel is an effect carried out for a message of the newer run: its line, written deep inside the
    // effect, names that message (the logger handed down from the batch) and that run.
    const canceled = lines.find((l) => l.message === "canceled older run of the group");
    expect(canceled).toMatchObject({ runId: "gnew", target: "gold", messageId: expect.any(String) });
  });

  it("makes the newer run wait, then starts it when the older one ends; other groups are untouched", async () => {
    const system = await withFakeCluster();
    await started(system, at("wold", 0, grouped(false)));
    await driveRun(system, "wold", { done: (r) => r.status === "running" });
    await started(system, at("wnew", 1, grouped(false)));
    const elsewhere = { ...at("wother", 2, grouped(false)), concurrencyGroup: "acme/web-app/other" };
    await started(system, elsewhere);
    const waiting = await driveRun(system, "wnew", { done: (r) => r.reason === "WaitingForGroup" });
    expect(waiting.status).toBe("pending");
    expect((await driveRun(system, "wother", { done: (r) => r.status === "running" })).status).toBe(
      "running",
    );
    await system.commands.handle("wold", { type: "cancel.requested" }, BOOTSTRAP_TOKEN);
    const now = await driveRun(system, "wnew", { done: (r) => r.status === "running" });
    expect(now.startedAt).toBeDefined();
  });
});
