import { describe, expect, it, onTestFinished } from "vitest";
import {
  createKubernetesRunner,
  type KubernetesRunnerOptions,
} from "../../core/adapters/kubernetes/index.js";
import { PermanentError } from "../../core/errors.js";
import type { TaskLaunch } from "../../core/model/index.js";
import type { JobRef } from "../../core/ports.js";
import { type FakeKubernetesOptions, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { forEachKubernetesClient, kubernetesClient } from "../helpers/kubernetes-clients.js";

/**
 * Each way a Job can fail to run is named by the first observation after it happens: no test waits for a
 * deadline. The Job that can never start is stopped: its pod's containers are killed and the pod kept for its
 * log (deleted once the log is archived), or, with no started pod, the Job is deleted at once.
 */

const NAMESPACE = "ci";

async function setUp(
  fakeOptions: FakeKubernetesOptions = {},
  runnerOptions: Partial<KubernetesRunnerOptions> = {},
) {
  const fake = await startFakeKubernetes({ startDelayMs: "manual", ...fakeOptions });
  onTestFinished(() => fake.close());
  const runner = await createKubernetesRunner({
    client: kubernetesClient(),
    kubeconfig: fake.kubeconfig,
    namespace: NAMESPACE,
    retryBudgetMs: 300,
    requestTimeoutMs: 2000,
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
    timeoutSeconds: 3600,
    env: { HOOKFLOW_RUN_ID: "r1" },
    secretEnv: { HOOKFLOW_TASK_TOKEN: "task-token-1" },
    source: { kind: "run", image: "node:22", command: ["sh", "-c", "npm test"] },
    ...overrides,
  };
}

/** A job template with an init container that clones, as examples/jobs/kaniko-build.yaml has. */
function withInit(): TaskLaunch {
  return launch({
    source: {
      kind: "job",
      template: "build",
      manifest: {
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
    },
  });
}

const refOf = (l: TaskLaunch): JobRef => ({
  runId: l.runId,
  task: l.task,
  attempt: l.attempt,
  jobName: l.jobName,
});

forEachKubernetesClient(() => {
  describe("a pod that can never start fails its attempt at once, with the cause", () => {
    it("ErrImagePull and ImagePullBackOff past the grace; the Job is stopped, its pod kept for the log", async () => {
      const { fake, runner } = await setUp({}, { imagePullGraceMs: 0 });
      const task = launch({ source: { kind: "run", image: "node:nope", command: ["true"] } });
      await runner.submit(task);
      fake.containerWaiting(task.jobName, { reason: "ImagePullBackOff" });

      const seen = await runner.observe(refOf(task));

      expect(seen.state).toBe("failed");
      expect(seen.message).toMatch(
        /^container "task" cannot start: ImagePullBackOff: Back-off pulling image "node:nope" \(its pod was created \d+ s ago\)$/,
      );
      expect(fake.requestsTo("DELETE", "/jobs/")).toEqual([]);
      expect(fake.requestsTo("PATCH", "/pods/").map((r) => [r.contentType, r.body])).toEqual([
        ["application/json-patch+json", [{ op: "add", path: "/spec/activeDeadlineSeconds", value: 0 }]],
      ]);
      const [pod, ...others] = fake.pods();
      expect(others).toEqual([]);
      expect(pod.status).toMatchObject({ phase: "Failed", reason: "DeadlineExceeded" });
      // backoffLimit 0: the failure fails the Job, and its controller makes no other pod.
      expect(fake.job(task.jobName).status.conditions.map((c: { reason: string }) => c.reason)).toContain(
        "BackoffLimitExceeded",
      );
    });

    it("a failing pull within the grace is only pending: a registry hiccup does not fail a task", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      fake.containerWaiting(task.jobName, { reason: "ErrImagePull" });

      expect(await runner.observe(refOf(task))).toEqual({ state: "pending" });
      expect(fake.jobs()).toHaveLength(1);
    });

    it("InvalidImageName needs no grace", async () => {
      const { fake, runner } = await setUp();
      const task = launch({ source: { kind: "run", image: "Node:22", command: ["true"] } });
      await runner.submit(task);
      fake.containerWaiting(task.jobName, { reason: "InvalidImageName" });

      const seen = await runner.observe(refOf(task));
      expect(seen).toEqual({
        state: "failed",
        message: expect.stringMatching(
          /^container "task" cannot start: InvalidImageName: .*invalid reference format$/,
        ),
      });
    });

    it("CreateContainerConfigError for a Secret the template names fails; for the attempt's own Secret it waits", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      fake.containerWaiting(task.jobName, {
        reason: "CreateContainerConfigError",
        message: `secret "${task.jobName}-env" not found`,
      });
      expect(await runner.observe(refOf(task))).toEqual({ state: "pending" });

      fake.containerWaiting(task.jobName, {
        reason: "CreateContainerConfigError",
        message: 'secret "npm-credentials" not found',
      });
      expect(await runner.observe(refOf(task))).toEqual({
        state: "failed",
        message:
          'container "task" cannot start: CreateContainerConfigError: secret "npm-credentials" not found',
      });
    });

    it("an init container that cannot pull is named as one", async () => {
      const { fake, runner } = await setUp({}, { imagePullGraceMs: 0 });
      const task = withInit();
      await runner.submit(task);
      fake.containerWaiting(task.jobName, { reason: "ErrImagePull", container: "clone" });

      const seen = await runner.observe(refOf(task));
      expect(seen.message).toMatch(
        /^init container "clone" cannot start: ErrImagePull: .*"alpine\/git:2\.45\.2"/,
      );
    });

    it.each([
      [
        "Pod Security Admission",
        'violates PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "task" must set securityContext.runAsNonRoot=true)',
      ],
      [
        "a ResourceQuota",
        "exceeded quota: ci-quota, requested: requests.cpu=2, used: requests.cpu=8, limited: requests.cpu=8",
      ],
      [
        "a missing ServiceAccount",
        'error looking up service account ci/hookflow-deployer: serviceaccount "hookflow-deployer" not found',
      ],
    ])("a pod refused by %s (FailedCreate)", async (_, refusal) => {
      const { fake, runner } = await setUp({ admitPod: () => refusal });
      const task = launch();
      await runner.submit(task);

      const seen = await runner.observe(refOf(task));

      expect(seen.state).toBe("failed");
      expect(seen.message).toMatch(
        /^the Job could not create its pod: Error creating: pods "hf-unit-0123456789-1-\w+" is forbidden: /,
      );
      expect(seen.message).toContain(refusal);
      // No pod ever started, so no log is lost with it: deleted at once, or its controller might yet make one.
      expect(fake.jobs()).toEqual([]);
    });

    it("another Job's FailedCreate is not this one's: a Job with a pod is not asked about events", async () => {
      const { fake, runner } = await setUp();
      const task = launch();
      await runner.submit(task);
      fake.setPodAdmission(() => "exceeded quota: ci-quota");
      await runner.submit(launch({ task: "lint", jobName: "hf-lint-0123456789-1" }));
      fake.setPodAdmission(undefined);

      expect(await runner.observe(refOf(task))).toEqual({ state: "pending" });
      expect(fake.requestsTo("GET", "/events").at(-1)).toBeUndefined();
    });
  });

  describe("the conditions of Kubernetes 1.31+", () => {
    it("FailureTarget fails the attempt before Failed appears (a lost node keeps the pod terminating)", async () => {
      const { fake, runner } = await setUp({ startDelayMs: 0 });
      const task = launch();
      await runner.submit(task);
      fake.markFailureTarget(
        task.jobName,
        "PodFailurePolicy",
        "Container task for pod ci/x failed with exit code 42 matching FailJob rule at index 0",
      );

      expect(await runner.observe(refOf(task))).toEqual({
        state: "failed",
        message:
          "the Job failed: PodFailurePolicy: Container task for pod ci/x failed with exit code 42 matching FailJob rule at index 0",
      });
      expect(fake.jobs()).toHaveLength(1); // Ending on its own: nothing to delete.
    });

    it("SuccessCriteriaMet is success with its outputs, before Complete", async () => {
      const { fake, runner } = await setUp({ startDelayMs: 0 });
      const task = launch();
      await runner.submit(task);
      fake.markSuccessCriteriaMet(task.jobName, { terminationMessage: "VERSION=1.2.3" });

      expect(await runner.observe(refOf(task))).toEqual({
        state: "succeeded",
        terminationMessage: "VERSION=1.2.3",
      });
    });
  });

  describe("disruptions", () => {
    it("an evicted pod is replaced, not counted: the task keeps running", async () => {
      const { fake, runner } = await setUp({ startDelayMs: 0 });
      const task = launch();
      await runner.submit(task);
      const first = fake.pods()[0].metadata.name;

      fake.evict(task.jobName);

      expect(await runner.observe(refOf(task))).toEqual({ state: "running" });
      expect(fake.pods().map((p) => p.metadata.name)).not.toContain(first);
      expect(fake.pods()).toHaveLength(1);
    });

    it("without the pod failure policy (a template that restarts OnFailure cannot have one) an eviction is a failure", async () => {
      const { fake, runner } = await setUp({ startDelayMs: 0 });
      const task = launch({
        source: {
          kind: "job",
          template: "t",
          manifest: {
            apiVersion: "batch/v1",
            kind: "Job",
            spec: {
              template: {
                spec: { restartPolicy: "OnFailure", containers: [{ name: "t", image: "alpine" }] },
              },
            },
          },
        },
      });
      await runner.submit(task);
      expect(fake.job(task.jobName).spec.podFailurePolicy).toBeUndefined();

      fake.evict(task.jobName);

      expect((await runner.observe(refOf(task))).state).toBe("failed");
    });
  });

  describe("a refused task Secret", () => {
    it("deletes its Job, whose pod would wait for the Secret until the deadline", async () => {
      const { fake, runner } = await setUp();
      fake.injectFault({
        method: "POST",
        pathIncludes: "/secrets",
        status: 422,
        reason: "Invalid",
        message:
          'admission webhook "secrets.policy.example.com" denied the request: Secrets must carry an owner label',
      });
      const task = launch();

      const error = await runner.submit(task).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toContain("Secrets must carry an owner label");
      expect(fake.jobs()).toEqual([]);
      expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        "POST /apis/batch/v1/namespaces/ci/jobs 201",
        "POST /api/v1/namespaces/ci/secrets 422",
        `DELETE /apis/batch/v1/namespaces/ci/jobs/${task.jobName} 200`,
      ]);
    });
  });

  describe("logs", () => {
    it("every container, init containers first, each under its name", async () => {
      const { fake, runner } = await setUp({ startDelayMs: 0 });
      const task = withInit();
      await runner.submit(task);
      fake.writeLog(task.jobName, "Cloning into '.'...\n", "clone");
      fake.writeLog(task.jobName, "INFO Pushing image\n", "build");

      expect(await runner.logs(refOf(task))).toBe(
        "==> init container clone <==\nCloning into '.'...\n==> container build <==\nINFO Pushing image\n",
      );
    });

    it("a failing init container's output is readable; the container that never ran is left out", async () => {
      const { fake, runner } = await setUp();
      const task = withInit();
      await runner.submit(task);
      fake.fail(task.jobName, {
        reason: "BackoffLimitExceeded",
        initContainer: "clone",
        exitCode: 128,
        log: "fatal: repository 'x' not found\n",
      });

      expect(await runner.logs(refOf(task))).toBe(
        "==> init container clone <==\nfatal: repository 'x' not found\n",
      );
      expect((await runner.observe(refOf(task))).message).toBe(
        'init container "clone" failed with exit code 128 (Error)',
      );
    });

    it("a large log is never downloaded whole: each request is bounded by limitBytes, and the newest lines come back", async () => {
      const maxBytes = 64 * 1024;
      const { fake, runner } = await setUp({ startDelayMs: 0 }, { logRequestMaxBytes: maxBytes });
      const task = launch();
      await runner.submit(task);
      const lines = Array.from(
        { length: 50_000 },
        (_, i) => `line ${String(i).padStart(6, "0")} ${"x".repeat(80)}\n`,
      );
      fake.writeLog(task.jobName, lines.join("")); // about 4.5 MB

      const log = await runner.logs(refOf(task));

      const reads = fake.requestsTo("GET", "/log");
      expect(reads.length).toBeLessThanOrEqual(3);
      for (const read of reads) expect(read.query.limitBytes).toBe(String(maxBytes));
      expect(Buffer.byteLength(log)).toBeLessThanOrEqual(maxBytes);
      expect(log.endsWith(lines.at(-1) as string)).toBe(true);
      expect(log.startsWith("line ")).toBe(true);
    });
  });
});
