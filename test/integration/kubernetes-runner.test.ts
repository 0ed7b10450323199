import { describe, expect, it, onTestFinished } from "vitest";
import { USER_AGENT } from "../../core/adapters/kubernetes/http-client.js";
import {
  createKubernetesRunner,
  type KubernetesRunnerOptions,
} from "../../core/adapters/kubernetes/index.js";
import type { TaskLaunch } from "../../core/model/index.js";
import type { JobRef } from "../../core/ports.js";
import { type FakeKubernetesOptions, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { jobTemplate } from "../helpers/factories.js";
import { forEachKubernetesClient, kubernetesClient } from "../helpers/kubernetes-clients.js";
import { waitFor } from "../helpers/wait.js";

const NAMESPACE = "ci";
const TOKEN = "task-token-4f1c";
const NPM_TOKEN = "npm-secret-9a2b";

async function setUp(
  fakeOptions: FakeKubernetesOptions = {},
  runnerOptions: Partial<KubernetesRunnerOptions> = {},
) {
  const fake = await startFakeKubernetes(fakeOptions);
  onTestFinished(() => fake.close());
  const runner = await createKubernetesRunner({
    client: kubernetesClient(),
    kubeconfig: fake.kubeconfig,
    namespace: NAMESPACE,
    retryBudgetMs: 300,
    // Far above a healthy answer on a loaded machine: only injected faults fail a request.
    requestTimeoutMs: 5000,
    retryBaseDelayMs: 10,
    ...runnerOptions,
  });
  return { fake, runner };
}

function launch(overrides: Partial<TaskLaunch> = {}): TaskLaunch {
  return {
    runId: "r1",
    pipeline: "web-app",
    task: "unit",
    attempt: 1,
    jobName: "hf-unit-0123456789-1",
    timeoutSeconds: 600,
    env: { HOOKFLOW_RUN_ID: "r1", HOOKFLOW_TASK: "unit", GIT_BRANCH: "main" },
    secretEnv: { HOOKFLOW_TASK_TOKEN: TOKEN, NPM_TOKEN },
    source: { kind: "run", image: "node:22", command: ["sh", "-c", "npm test"] },
    ...overrides,
  };
}

const refOf = (l: TaskLaunch): JobRef => ({
  runId: l.runId,
  task: l.task,
  attempt: l.attempt,
  jobName: l.jobName,
});

function until<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  return waitFor(probe, { until: done, what: "the Job to reach the awaited state" });
}

forEachKubernetesClient(() => {
  describe("submit", () => {
    it("creates the Job, then a Secret owned by it, and never sends a sensitive value in the Job", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);

      expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        "POST /apis/batch/v1/namespaces/ci/jobs 201",
        "POST /api/v1/namespaces/ci/secrets 201",
      ]);
      const [job] = fake.jobs();
      const [secret] = fake.secrets();
      expect(job.metadata.name).toBe(task.jobName);
      expect(secret.metadata.name).toBe(`${task.jobName}-env`);
      expect(secret.metadata.ownerReferences).toEqual([
        { apiVersion: "batch/v1", kind: "Job", name: task.jobName, uid: job.metadata.uid },
      ]);
      expect(fake.secretData(`${task.jobName}-env`)).toEqual({ HOOKFLOW_TASK_TOKEN: TOKEN, NPM_TOKEN });
      for (const request of fake.requestsTo("POST", "/jobs")) {
        expect(request.rawBody).not.toContain(TOKEN);
        expect(request.rawBody).not.toContain(NPM_TOKEN);
      }
      // The container gets them all the same, from the Secret.
      expect(fake.envOf(task.jobName)).toMatchObject({
        HOOKFLOW_TASK_TOKEN: TOKEN,
        NPM_TOKEN,
        GIT_BRANCH: "main",
      });
      expect(fake.serverErrors).toEqual([]);
      // Sent by the client under test: the built-in one says so; client-node's transport says its own name.
      const agents = new Set(fake.requests.map((r) => r.userAgent));
      if (kubernetesClient() === "built-in") expect(agents).toEqual(new Set([USER_AGENT]));
      else expect(agents).not.toContain(USER_AGENT);
    });

    it("creates one Job and one Secret when submitted twice", async () => {
      const { fake, runner } = await setUp();
      await runner.submit(launch());
      await runner.submit(launch());
      expect(fake.jobs()).toHaveLength(1);
      expect(fake.secrets()).toHaveLength(1);
      expect(fake.requestsTo("POST", "/jobs").map((r) => r.status)).toEqual([201, 409]);
      expect(fake.requestsTo("POST", "/secrets").map((r) => r.status)).toEqual([201, 409]);
    });

    it("creates the Secret on redelivery when the first submit stopped after the Job", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      fake.injectFault({
        method: "POST",
        pathIncludes: "/secrets",
        status: 503,
        times: Number.POSITIVE_INFINITY,
      });
      await expect(runner.submit(task)).rejects.toThrow(/Secret/);
      expect(await runner.observe(refOf(task))).toEqual({ state: "pending" });
      expect(fake.pods()[0].status.containerStatuses[0].state.waiting.reason).toBe(
        "CreateContainerConfigError",
      );

      fake.clearFaults();
      await runner.submit(task);
      expect(fake.jobs()).toHaveLength(1);
      expect(await runner.observe(refOf(task))).toEqual({ state: "running" });
    });

    it("creates no Secret for a task without sensitive values", async () => {
      const { fake, runner } = await setUp();
      await runner.submit(launch({ secretEnv: {} }));
      expect(fake.secrets()).toEqual([]);
      expect(await runner.observe(refOf(launch()))).toEqual({ state: "running" });
    });

    it("submits a job-template task the fake API server accepts", async () => {
      const { fake, runner } = await setUp();
      const template = jobTemplate().template;
      await runner.submit(
        launch({
          task: "image",
          jobName: "hf-image-0123456789-1",
          source: { kind: "job", template: "kaniko-build", manifest: structuredClone(template) },
        }),
      );
      const job = fake.job("hf-image-0123456789-1");
      expect(job.metadata.labels).toMatchObject({ team: "web", "hookflow.dev/task": "image" });
      expect(job.spec.template.spec.containers[0].name).toBe("kaniko");
      expect(fake.pods()[0].metadata.labels).toMatchObject({
        "batch.kubernetes.io/job-name": "hf-image-0123456789-1",
        "hookflow.dev/run": "r1",
      });
    });

    it("gives the container an untrusted branch name exactly as it was pushed", async () => {
      const { fake, runner } = await setUp();
      // $(GIT_AUTHOR) names a variable defined before GIT_BRANCH, which Kubernetes would expand; $$ it would halve.
      const branch = "x$(touch /tmp/pwned)$(GIT_AUTHOR)$$";
      await runner.submit(
        launch({ env: { GIT_AUTHOR: "alice", GIT_BRANCH: branch, GIT_COMMIT_MESSAGE: "a\nkind: Secret\n" } }),
      );
      expect(fake.envOf(launch().jobName)).toMatchObject({
        GIT_BRANCH: branch,
        GIT_COMMIT_MESSAGE: "a\nkind: Secret\n",
      });
    });
  });

  describe("observe", () => {
    it("follows a Job from pending to running to succeeded, with its outputs", async () => {
      const { fake, runner } = await setUp({ startDelayMs: "manual" });
      const task = launch();
      await runner.submit(task);
      expect(await runner.observe(refOf(task))).toEqual({ state: "pending" });
      fake.start(task.jobName);
      expect(await runner.observe(refOf(task))).toEqual({ state: "running" });
      fake.complete(task.jobName, { terminationMessage: "IMAGE_DIGEST=sha256:abc\nVERSION=1.2.3\n" });
      expect(await runner.observe(refOf(task))).toEqual({
        state: "succeeded",
        terminationMessage: "IMAGE_DIGEST=sha256:abc\nVERSION=1.2.3\n",
      });
    });

    it("reports a failed container with its exit code and reason", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      fake.fail(task.jobName, {
        reason: "BackoffLimitExceeded",
        exitCode: 2,
        terminationMessage: "REASON=tests\n",
      });
      expect(await runner.observe(refOf(task))).toEqual({
        state: "failed",
        message: 'container "task" failed with exit code 2 (Error)',
        terminationMessage: "REASON=tests\n",
      });
    });

    it("gives the log's tail as termination message when a failed container wrote none", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      fake.fail(task.jobName, {
        reason: "BackoffLimitExceeded",
        exitCode: 137,
        containerReason: "OOMKilled",
        log: "npm test\nout of memory\n",
      });
      expect(await runner.observe(refOf(task))).toEqual({
        state: "failed",
        message: 'container "task" failed with exit code 137 (OOMKilled)',
        terminationMessage: "npm test\nout of memory\n",
      });
    });

    it("reports a Job that ran past its own deadline (a pod that never started)", async () => {
      const { fake, runner } = await setUp();
      const task = launch({ timeoutSeconds: 900 });
      await runner.submit(task);
      fake.fail(task.jobName, { reason: "DeadlineExceeded" });
      expect(await runner.observe(refOf(task))).toEqual({
        state: "failed",
        message: "the Job exceeded its deadline of 930 seconds",
      });
    });

    it("sees the task's timeout as the kubelet enforces it: the pod killed at its deadline, and kept", async () => {
      const { fake, runner } = await setUp();
      const task = launch({ timeoutSeconds: 1 });
      await runner.submit(task);
      const observed = await until(
        () => runner.observe(refOf(task)),
        (o) => o.state === "failed",
      );
      expect(observed).toEqual({
        state: "failed",
        message: "the task ran past its deadline of 1 seconds: its containers were killed",
      });
      // The pod stays, so its log can be archived; the Job's own, later deadline no longer deletes it.
      expect(fake.pods().map((p) => p.status.reason)).toEqual(["DeadlineExceeded"]);
    });

    it("reports a Job that does not exist as missing, not as anything else", async () => {
      const { fake, runner } = await setUp();
      expect(await runner.observe(refOf(launch()))).toEqual({ state: "missing" });
      expect(fake.requestsTo("GET")).toHaveLength(1);
    });

    it("runs whole tasks automatically, outputs computed from the task's env", async () => {
      const { runner } = await setUp({
        autoComplete: (job) =>
          job.env.HOOKFLOW_TASK === "lint"
            ? { fail: { exitCode: 3 }, log: "lint failed\n" }
            : { terminationMessage: `TESTED=${job.env.GIT_BRANCH}`, log: "ok\n" },
      });
      const unit = launch();
      const lint = launch({ task: "lint", jobName: "hf-lint-0123456789-1", env: { HOOKFLOW_TASK: "lint" } });
      await Promise.all([runner.submit(unit), runner.submit(lint)]);
      const terminal = (o: { state: string }) => o.state === "succeeded" || o.state === "failed";
      expect(await until(() => runner.observe(refOf(unit)), terminal)).toEqual({
        state: "succeeded",
        terminationMessage: "TESTED=main",
      });
      expect(await until(() => runner.observe(refOf(lint)), terminal)).toEqual({
        state: "failed",
        message: 'container "task" failed with exit code 3 (Error)',
        terminationMessage: "lint failed\n",
      });
      expect(await runner.logs(refOf(unit))).toBe("ok\n");
    });
  });

  describe("cancel", () => {
    it("deletes the Job in the background, with its pod and Secret, and is safe to repeat", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      await runner.cancel(refOf(task));
      await runner.cancel(refOf(task));
      const deletes = fake.requestsTo("DELETE", "/jobs/");
      expect(deletes.map((r) => [r.path, r.query.propagationPolicy, r.status])).toEqual([
        [`/apis/batch/v1/namespaces/ci/jobs/${task.jobName}`, "Background", 200],
        [`/apis/batch/v1/namespaces/ci/jobs/${task.jobName}`, "Background", 404],
      ]);
      expect([fake.jobs(), fake.pods(), fake.secrets()]).toEqual([[], [], []]);
      expect(await runner.observe(refOf(task))).toEqual({ state: "missing" });
    });
  });

  describe("logs", () => {
    it("reads the task container's log, its last lines when asked", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      fake.writeLog(task.jobName, "one\ntwo\nthree\nfour\n");
      expect(await runner.logs(refOf(task))).toBe("one\ntwo\nthree\nfour\n");
      expect(await runner.logs(refOf(task), { tail: 2 })).toBe("three\nfour\n");
      expect(fake.requestsTo("GET", "/log").at(-1)?.query).toEqual({
        container: "task",
        tailLines: "2",
        limitBytes: String(1024 * 1024),
      });
    });

    it("reads a large log the API server gzips, as it is written (multi-byte characters included)", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      const log = Array.from({ length: 5000 }, (_, i) => `line ${i}: build step — ok ✓\n`).join("");
      expect(Buffer.byteLength(log)).toBeGreaterThan(128 * 1024);
      fake.writeLog(task.jobName, log);
      expect(await runner.logs(refOf(task))).toBe(log);
      expect(fake.requestsTo("GET", "/log").at(-1)?.compressed).toBe(true);
    });

    it("is empty before the container starts and when there is no pod", async () => {
      const { runner } = await setUp({ startDelayMs: "manual" });
      const task = launch();
      await runner.submit(task);
      expect(await runner.logs(refOf(task))).toBe("");
      expect(await runner.logs(refOf(launch({ jobName: "hf-none-0123456789-1" })))).toBe("");
    });
  });

  describe("stop", () => {
    it("an attempt whose pod the kubelet has not started: nothing ran, so its Job is deleted at once and nothing ever starts", async () => {
      const { fake, runner } = await setUp({ startDelayMs: "manual" });
      const task = launch();
      await runner.submit(task);
      expect(fake.pods().map((p) => p.status.startTime)).toEqual([undefined]);

      await runner.stop(refOf(task));

      // A deadline would count only from the pod's start, after its containers had begun: deleting is the stop.
      expect(fake.requestsTo("PATCH")).toEqual([]);
      expect(fake.jobs()).toEqual([]);
      expect(fake.pods()).toEqual([]);
      expect(await runner.observe(refOf(task))).toEqual({ state: "missing" });
      expect(await runner.collectLogs(refOf(task))).toEqual({ state: "gone" });
    });
  });
});
