import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { jobNameFor } from "../../core/engine/index.js";
import { JobTemplate, needsReconciling, type Pipeline, type Run } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { startS3Emulator } from "../../infra/local/emulators.js";
import { type FakeJobView, type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { bucketContents } from "../helpers/aws.js";
import { driveRun, summary } from "../helpers/drive.js";
import { newRun, pipeline, runTask } from "../helpers/factories.js";
import { testSystem } from "../helpers/system.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "s3cr3t-registry-pass";

/** A template with an init container that clones, and a sensitive param whose value a task prints. */
const build = JobTemplate.parse({
  name: "build",
  params: [{ name: "REGISTRY_PASSWORD", sensitive: true, default: SECRET }],
  template: {
    apiVersion: "batch/v1",
    kind: "Job",
    spec: {
      template: {
        spec: {
          restartPolicy: "Never",
          initContainers: [{ name: "clone", image: "alpine/git:2.45.2", command: ["git", "clone", "x"] }],
          containers: [{ name: "build", image: "gcr.io/kaniko-project/executor:v1.23.2" }],
        },
      },
    },
  },
});

/** How the cluster plays each task, by name; "hang-*" and "build*" are left for the test to drive. */
function play(job: FakeJobView) {
  const task = job.labels["hookflow.dev/task"] ?? "";
  const attempt = job.labels["hookflow.dev/attempt"];
  if (task === "flaky" && attempt === "1")
    return { fail: { reason: "BackoffLimitExceeded" as const }, log: "attempt one broke\n" };
  if (task === "flaky") return { log: "attempt two worked\n" };
  if (task.startsWith("hang") || task.startsWith("build")) return undefined;
  return { log: `ran ${task}\nsecond line\n` };
}

let fake: FakeKubernetes;
beforeAll(async () => {
  fake = await startFakeKubernetes({ autoComplete: play, autoCompleteDelayMs: 5 });
});
afterAll(() => fake.close());

type System = Awaited<ReturnType<typeof testSystem>>;

async function setUp(
  options: {
    ttlSecondsAfterFinished?: number;
    env?: Record<string, string>;
    visibilityTimeoutSeconds?: number;
  } = {},
) {
  const runner = await createKubernetesRunner({
    kubeconfig: fake.kubeconfig,
    namespace: "ci",
    retryBudgetMs: 500,
    requestTimeoutMs: 500,
    retryBaseDelayMs: 10,
    ...(options.ttlSecondsAfterFinished !== undefined && {
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished,
    }),
  });
  const system = await testSystem({
    runner,
    ...(options.env && { env: options.env }),
    ...(options.visibilityTimeoutSeconds !== undefined && {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    }),
  });
  return { system, app: createApiApp(system.api) };
}

async function start(system: System, run: Run) {
  await system.stores.runs.saveRun(run);
  await system.queue.send([{ runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` }]);
}

/** Finished, and nothing owed to its Jobs any more: every log is archived. */
const settled = (run: Run) => !needsReconciling(run);

function logs(app: ReturnType<typeof createApiApp>, runId: string, task: string, query = "") {
  return app.request(`/api/runs/${runId}/tasks/${task}/logs${query}`, {
    headers: { authorization: "Bearer test-api-token" },
  });
}

const jobExists = (name: string) => fake.jobs().some((j) => j.metadata.name === name);
const oneTask = (name: string, extra: Record<string, unknown> = {}): Pipeline =>
  pipeline({ name: "logs", stages: [{ name: "only", tasks: [runTask(name, extra)] }] });

/** The scheduler has seen the only task's pod run. */
const running = (run: Run) => run.stages[0]?.tasks[0]?.status === "running";

describe("logs outlive their pods", () => {
  it("a succeeded task's log is archived with each line's time, then hookflow deletes its Job", async () => {
    const { system, app } = await setUp();
    await start(system, newRun({ id: "archok", pipeline: oneTask("unit") }));
    const run = await driveRun(system, "archok", { done: settled });
    const job = jobNameFor("archok", "unit", 1);

    expect(summary(run)?.status).toBe("succeeded");
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["task"] }]);
    expect(jobExists(job)).toBe(false);
    const answer = await logs(app, "archok", "unit");
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("ran unit\nsecond line\n");
    const stamped = await (await logs(app, "archok", "unit", "?timestamps=true")).text();
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z ran unit\n\d{4}-\d\d-\d\dT[\d:.]+Z second line\n$/);
    expect(await (await logs(app, "archok", "unit", "?tail=1")).text()).toBe("second line\n");
  });

  it("cancel copies first, then deletes: a canceled task's full log is readable afterwards", async () => {
    const { system, app } = await setUp();
    await start(system, newRun({ id: "archcancel", pipeline: oneTask("hang-long") }));
    const job = jobNameFor("archcancel", "hang-long", 1);
    await driveRun(system, "archcancel", { done: running });
    fake.writeLog(job, "step 1 of 3\nstep 2 of 3\n");

    await system.api.runs.cancel("archcancel", { kind: "token", id: "test" });
    const run = await driveRun(system, "archcancel", { done: settled });

    expect(run.status).toBe("canceled");
    expect(jobExists(job)).toBe(false);
    expect(await (await logs(app, "archcancel", "hang-long")).text()).toBe("step 1 of 3\nstep 2 of 3\n");
  });

  it("a Job deleted by its TTL before hookflow saw it end: the archive says its pod was gone, once", async () => {
    const { system, app } = await setUp({ ttlSecondsAfterFinished: 0 });
    await start(system, newRun({ id: "archttl", pipeline: oneTask("unit") }));
    const run = await driveRun(system, "archttl", { done: settled });
    const task = run.stages[0]?.tasks[0];

    expect(task?.logs).toEqual([{ attempt: 1, containers: [], gone: true }]);
    const text = await (await logs(app, "archttl", "unit")).text();
    expect(text).toMatch(/^\[hookflow\] the pod of Job hf-.* was gone before its log could be copied/);
    const objects = await bucketContents(system.bucket);
    expect(objects.map((o) => o.key)).toEqual([`logs/archttl/unit/1/index.json`]);
  });

  it("a failing init container's output is readable, container by container", async () => {
    const { system, app } = await setUp();
    const definition = pipeline({
      name: "logs",
      stages: [{ name: "only", tasks: [{ name: "build", job: "build" }] }],
    });
    await start(system, newRun({ id: "archinit", pipeline: definition, jobs: { build } }));
    const job = jobNameFor("archinit", "build", 1);
    await driveRun(system, "archinit", { done: running });
    fake.fail(job, {
      reason: "BackoffLimitExceeded",
      initContainer: "clone",
      exitCode: 128,
      log: "fatal: repository 'x' not found\n",
    });
    const run = await driveRun(system, "archinit", { done: settled });

    expect(run.status).toBe("failed");
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["clone"] }]);
    expect(await (await logs(app, "archinit", "build")).text()).toBe("fatal: repository 'x' not found\n");
    expect(await (await logs(app, "archinit", "build", "?container=build")).json()).toEqual({
      error: "attempt 1 of build has no log of container build; it has: clone",
    });
  });

  it("attempt 1 and attempt 2 of a retried task are both readable", async () => {
    const { system, app } = await setUp();
    await start(system, newRun({ id: "archretry", pipeline: oneTask("flaky", { retries: 1 }) }));
    const run = await driveRun(system, "archretry", { done: settled });

    expect(summary(run)?.tasks).toEqual(["flaky:succeeded#2"]);
    expect(run.stages[0]?.tasks[0]?.logs?.map((l) => l.attempt)).toEqual([1, 2]);
    expect(await (await logs(app, "archretry", "flaky", "?attempt=1")).text()).toBe("attempt one broke\n");
    expect(await (await logs(app, "archretry", "flaky", "?attempt=2")).text()).toBe("attempt two worked\n");
    expect(await (await logs(app, "archretry", "flaky")).text()).toBe("attempt two worked\n");
    expect((await logs(app, "archretry", "flaky", "?attempt=3")).status).toBe(404);
  });

  it("a sensitive value is never in any stored object: masked once, on the way in", async () => {
    const { system, app } = await setUp();
    const definition = pipeline({
      name: "logs",
      stages: [{ name: "only", tasks: [{ name: "build-secret", job: "build" }] }],
    });
    await start(system, newRun({ id: "archmask", pipeline: definition, jobs: { build } }));
    const job = jobNameFor("archmask", "build-secret", 1);
    await driveRun(system, "archmask", { done: running });
    fake.writeLog(job, `cloned with ${SECRET}\n`, "clone");
    fake.complete(job, { log: `pushing with password ${SECRET}\nsplit ${SECRET.slice(0, 6)}\n` });
    const run = await driveRun(system, "archmask", { done: settled });

    expect(run.status).toBe("succeeded");
    const objects = await bucketContents(system.bucket);
    expect(objects.length).toBeGreaterThanOrEqual(3);
    for (const object of objects) expect(object.text).not.toContain(SECRET);
    expect(objects.some((o) => o.text.includes("pushing with password ******"))).toBe(true);
    expect(await (await logs(app, "archmask", "build-secret", "?container=build")).text()).toBe(
      `pushing with password ******\nsplit ${SECRET.slice(0, 6)}\n`,
    );
  });

  it("an archive outage delays the copy and loses nothing: the Job stays until its log is kept", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "hookflow-s3-outage-"));
    const s3 = await startS3Emulator({ dataDir, buckets: ["outage-logs"] });
    onTestFinished(async () => {
      await s3.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { system, app } = await setUp({
      env: { HOOKFLOW_S3_ENDPOINT: s3.endpoint, HOOKFLOW_LOG_BUCKET: "outage-logs" },
      // A failed copy fails its message, which holds the run's message group until it is visible again.
      visibilityTimeoutSeconds: 1,
    });
    await start(system, newRun({ id: "archoutage", pipeline: oneTask("hang-outage") }));
    const job = jobNameFor("archoutage", "hang-outage", 1);
    await driveRun(system, "archoutage", { done: running });

    await s3.outage();
    fake.complete(job, { log: "built while the archive was away\n" });
    const ended = await driveRun(system, "archoutage", {
      done: (r) => r.status === "succeeded" && r.deliveryFailures.length === 0,
    });
    expect(ended.outbox.map((e) => e.type)).toContain("archiveLog");
    expect(needsReconciling(ended)).toBe(true);
    // The reconciler keeps looking at the finished run while its log is owed.
    expect((await system.stores.runs.activeRuns()).map((r) => r.id)).toContain("archoutage");
    expect(jobExists(job)).toBe(true);

    await s3.start();
    const run = await driveRun(system, "archoutage", { done: settled });
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["task"] }]);
    expect(jobExists(job)).toBe(false);
    expect(await (await logs(app, "archoutage", "hang-outage")).text()).toBe(
      "built while the archive was away\n",
    );
    expect((await system.stores.runs.activeRuns()).map((r) => r.id)).not.toContain("archoutage");
  });
});

/** The pods of a Job, as the fake cluster holds them. */
const podsOf = (job: string) =>
  fake.pods().filter((p) => p.metadata.labels?.["batch.kubernetes.io/job-name"] === job);

/** s3rver of its own, for a test that stops it. */
async function ownArchive(bucket: string) {
  const dataDir = mkdtempSync(join(tmpdir(), "hookflow-s3-outage-"));
  const s3 = await startS3Emulator({ dataDir, buckets: [bucket] });
  onTestFinished(async () => {
    await s3.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return s3;
}

describe("a timed-out task keeps its log", () => {
  it("the kubelet kills the pod at the task's timeout and the pod stays: its log is archived, then the Job is deleted", async () => {
    const { system, app } = await setUp();
    await start(
      system,
      newRun({ id: "archtimeout", pipeline: oneTask("hang-timeout", { timeoutSeconds: 1 }) }),
    );
    const job = jobNameFor("archtimeout", "hang-timeout", 1);
    await driveRun(system, "archtimeout", { done: running });
    fake.writeLog(job, "waiting for the rollout\n");
    const run = await driveRun(system, "archtimeout", { done: settled });

    expect(run.stages[0]?.tasks[0]).toMatchObject({
      status: "failed",
      message: "the task ran past its deadline of 1 seconds: its containers were killed",
      logs: [{ attempt: 1, containers: ["task"] }],
    });
    expect(jobExists(job)).toBe(false);
    expect(await (await logs(app, "archtimeout", "hang-timeout")).text()).toBe("waiting for the rollout\n");
  });
});

describe("a cancel during an archive outage stops the task at once", () => {
  it("the pod's containers are killed and no other pod starts; the log is copied when the archive is back, then the Job is deleted", async () => {
    const s3 = await ownArchive("cancel-outage-logs");
    const { system, app } = await setUp({
      env: { HOOKFLOW_S3_ENDPOINT: s3.endpoint, HOOKFLOW_LOG_BUCKET: "cancel-outage-logs" },
      visibilityTimeoutSeconds: 1,
    });
    await start(system, newRun({ id: "archstop", pipeline: oneTask("hang-deploy") }));
    const job = jobNameFor("archstop", "hang-deploy", 1);
    await driveRun(system, "archstop", { done: running });
    fake.writeLog(job, "rolling out 1 of 3\nrolling out 2 of 3\n");

    await s3.outage();
    await system.api.runs.cancel("archstop", { kind: "token", id: "test" });
    const stopped = () => podsOf(job).every((p) => p.status.phase === "Failed");
    const canceled = await driveRun(system, "archstop", {
      done: (r) => r.status === "canceled" && stopped(),
    });

    const [pod, ...others] = podsOf(job);
    expect(others).toEqual([]);
    expect(pod?.spec.activeDeadlineSeconds).toBe(0);
    expect(pod?.status).toMatchObject({ phase: "Failed", reason: "DeadlineExceeded" });
    expect(pod?.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 137 });
    // The Job failed (backoffLimit 0): its controller starts no other pod. It stays, with its pod, for the copy.
    expect(fake.job(job).status.conditions.map((c: { type: string }) => c.type)).toContain("Failed");
    expect(jobExists(job)).toBe(true);
    // Its pipeline slot stays held too: given back only once the Job is deleted (after the copy).
    expect(canceled.outbox.map((e) => e.type).sort()).toEqual(["archiveLog", "cancelTask", "releaseSlot"]);
    expect(needsReconciling(canceled)).toBe(true);
    // Live, the log is still there to read while the copy is owed.
    expect(await (await logs(app, "archstop", "hang-deploy")).text()).toBe(
      "rolling out 1 of 3\nrolling out 2 of 3\n",
    );

    await s3.start();
    const run = await driveRun(system, "archstop", { done: settled });
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["task"] }]);
    expect(jobExists(job)).toBe(false);
    expect(podsOf(job)).toEqual([]);
    expect(await (await logs(app, "archstop", "hang-deploy")).text()).toBe(
      "rolling out 1 of 3\nrolling out 2 of 3\n",
    );
  });
});

describe("a stop the cluster refuses", () => {
  it("does not hold up the cancel: it is logged, then the log is copied and the Job deleted, as before", async () => {
    const warnings: string[] = [];
    const runner = await createKubernetesRunner({
      kubeconfig: fake.kubeconfig,
      namespace: "ci",
      retryBudgetMs: 500,
      requestTimeoutMs: 500,
      retryBaseDelayMs: 10,
    });
    const system = await testSystem({
      runner,
      log: { info: () => {}, warn: (message) => warnings.push(message), error: () => {} },
    });
    const app = createApiApp(system.api);
    await start(system, newRun({ id: "archnopatch", pipeline: oneTask("hang-nopatch") }));
    const job = jobNameFor("archnopatch", "hang-nopatch", 1);
    await driveRun(system, "archnopatch", { done: running });
    fake.writeLog(job, "still here\n");
    // As a cluster whose Role lacks pods: patch (one applied before this release) answers.
    fake.injectFault({
      method: "PATCH",
      pathIncludes: "/pods/",
      status: 403,
      reason: "Forbidden",
      message:
        'pods is forbidden: User "system:serviceaccount:hookflow:hookflow-scheduler" cannot patch resource "pods"',
      times: Number.POSITIVE_INFINITY,
    });
    onTestFinished(() => fake.clearFaults());

    await system.api.runs.cancel("archnopatch", { kind: "token", id: "test" });
    const run = await driveRun(system, "archnopatch", { done: settled });

    expect(warnings).toContain("could not stop an attempt before copying its log");
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["task"] }]);
    expect(jobExists(job)).toBe(false);
    expect(await (await logs(app, "archnopatch", "hang-nopatch")).text()).toBe("still here\n");
  });
});

describe("a cancel during an archive outage, on the local runner", () => {
  it("kills the task's processes at once, keeps its log file until the copy is made, then the log is readable", async () => {
    const s3 = await ownArchive("local-outage-logs");
    const dataDir = mkdtempSync(join(tmpdir(), "hookflow-local-outage-"));
    const runner = createLocalRunner({ dataDir, killGraceSeconds: 1 });
    onTestFinished(async () => {
      await runner.stopAll();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const system = await testSystem({
      runner,
      env: { HOOKFLOW_S3_ENDPOINT: s3.endpoint, HOOKFLOW_LOG_BUCKET: "local-outage-logs" },
      visibilityTimeoutSeconds: 1,
    });
    const app = createApiApp(system.api);
    const definition = pipeline({
      name: "logs",
      stages: [
        {
          name: "only",
          tasks: [
            runTask("deploy", {
              run: {
                image: "alpine",
                command: ["sh", "-c", "echo rolling out; echo halfway; exec sleep 600"],
              },
            }),
          ],
        },
      ],
    });
    await start(system, newRun({ id: "archlocal", pipeline: definition }));
    const job = jobNameFor("archlocal", "deploy", 1);
    const ref = { runId: "archlocal", task: "deploy", attempt: 1, jobName: job };
    await driveRun(system, "archlocal", { done: running });
    await waitFor(() => runner.logs(ref), {
      until: (text) => text.includes("halfway"),
      what: "the task to print",
    });

    await s3.outage();
    await system.api.runs.cancel("archlocal", { kind: "token", id: "test" });
    const canceled = await driveRun(system, "archlocal", {
      done: async () => (await runner.observe(ref)).state === "failed",
    });
    // The process group is gone, though the log is not copied yet; its file stays meanwhile.
    const group = Number(readFileSync(join(dataDir, "jobs", job, "pid"), "utf8"));
    expect(() => process.kill(-group, 0)).toThrow(/ESRCH/);
    expect(await runner.observe(ref)).toMatchObject({
      state: "failed",
      message: expect.stringMatching(/canceled/),
    });
    expect(canceled.outbox.map((e) => e.type)).toContain("archiveLog");
    expect(readFileSync(join(dataDir, "jobs", job, "log"), "utf8")).toBe("rolling out\nhalfway\n");

    await s3.start();
    const run = await driveRun(system, "archlocal", { done: settled });
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["deploy"] }]);
    expect(await (await logs(app, "archlocal", "deploy")).text()).toBe("rolling out\nhalfway\n");
  });
});

describe("a Job stopped as stuck is archived like any ended attempt", () => {
  it("an image that can never be pulled: the init container that ran keeps its output, then the Job is deleted", async () => {
    const { system, app } = await setUp();
    const definition = pipeline({
      name: "logs",
      stages: [{ name: "only", tasks: [{ name: "build-stuck", job: "build" }] }],
    });
    await start(system, newRun({ id: "archstuck", pipeline: definition, jobs: { build } }));
    const job = jobNameFor("archstuck", "build-stuck", 1);
    await driveRun(system, "archstuck", { done: running });
    fake.writeLog(job, "Cloning into 'x'...\ndone.\n", "clone");
    fake.containerWaiting(job, { reason: "InvalidImageName", container: "build" });
    const run = await driveRun(system, "archstuck", { done: settled });

    expect(run.stages[0]?.tasks[0]?.message).toMatch(/InvalidImageName/);
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: ["clone"] }]);
    expect(await (await logs(app, "archstuck", "build-stuck")).text()).toBe("Cloning into 'x'...\ndone.\n");
    expect(jobExists(job)).toBe(false);
  });

  it("a pod admission refuses (FailedCreate): no pod, so the record of it is written in the log's place, once", async () => {
    const { system, app } = await setUp();
    fake.setPodAdmission(() => 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged');
    onTestFinished(() => fake.setPodAdmission(undefined));
    await start(system, newRun({ id: "archrefused", pipeline: oneTask("hang-refused") }));
    const run = await driveRun(system, "archrefused", { done: settled });

    expect(run.stages[0]?.tasks[0]?.message).toMatch(/could not create its pod/);
    expect(run.stages[0]?.tasks[0]?.logs).toEqual([{ attempt: 1, containers: [], gone: true }]);
    expect(jobExists(jobNameFor("archrefused", "hang-refused", 1))).toBe(false);
    expect(await (await logs(app, "archrefused", "hang-refused")).text()).toMatch(/never started/);
    const objects = await bucketContents(system.bucket);
    expect(objects.filter((o) => o.key.startsWith("logs/archrefused/")).map((o) => o.key)).toEqual([
      "logs/archrefused/hang-refused/1/index.json",
    ]);
  });
});

describe("the logs route checks its query", () => {
  it.each([
    ["?attempt=0", "attempt"],
    ["?attempt=x", "attempt"],
    ["?container=Bad_Name", "container"],
    ["?tail=0", "tail"],
    ["?timestamps=yes", "timestamps"],
  ])("%s is a 400 naming %s", async (query, field) => {
    const { system, app } = await setUp();
    await start(system, newRun({ id: "arch400", pipeline: oneTask("unit") }));
    const answer = await logs(app, "arch400", "unit", query);
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path)).toContain(field);
  });
});
