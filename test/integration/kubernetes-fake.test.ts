import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from "@kubernetes/client-node";
import { describe, expect, it, onTestFinished } from "vitest";
import { type FakeKubernetesOptions, lastLines, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { waitFor } from "../helpers/wait.js";

/** The fake API server as the real client sees it: these are the semantics other tests rely on. */

async function setUp(options: FakeKubernetesOptions = {}) {
  const fake = await startFakeKubernetes(options);
  onTestFinished(() => fake.close());
  const config = new KubeConfig();
  config.loadFromString(fake.kubeconfig);
  return { fake, batch: config.makeApiClient(BatchV1Api), core: config.makeApiClient(CoreV1Api) };
}

function job(name: string, overrides: { image?: string; env?: unknown[] } = {}): V1Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, labels: { team: "web" } },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [
            { name: "main", image: overrides.image ?? "alpine:3", env: (overrides.env as never) ?? [] },
          ],
        },
      },
    },
  };
}

async function statusOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(error)}`);
  // client-node passes no body on with a 401.
  return { code: error.code, body: error.body === undefined ? undefined : JSON.parse(error.body as string) };
}

describe("the fake Kubernetes API server", () => {
  it("refuses a Job missing required fields with 422 Invalid and the causes", async () => {
    const { batch } = await setUp();
    const body = job("bad");
    delete body.spec?.template.spec?.containers[0]?.image;
    expect(await statusOf(batch.createNamespacedJob({ namespace: "ci", body }))).toEqual({
      code: 422,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'Job.batch "bad" is invalid: spec.template.spec.containers[0].image: Required value',
        reason: "Invalid",
        details: {
          name: "bad",
          group: "batch",
          kind: "Job",
          causes: [
            {
              field: "spec.template.spec.containers[0].image",
              reason: "FieldValueRequired",
              message: "Required value",
            },
          ],
        },
        code: 422,
      },
    });
  });

  it("answers a duplicate name with 409 AlreadyExists and a missing Job with 404 NotFound", async () => {
    const { batch } = await setUp();
    await batch.createNamespacedJob({ namespace: "ci", body: job("one") });
    const duplicate = await statusOf(batch.createNamespacedJob({ namespace: "ci", body: job("one") }));
    expect(duplicate.code).toBe(409);
    expect(duplicate.body).toMatchObject({
      reason: "AlreadyExists",
      message: 'jobs.batch "one" already exists',
    });
    const missing = await statusOf(batch.readNamespacedJob({ namespace: "ci", name: "two" }));
    expect(missing.body).toMatchObject({
      code: 404,
      reason: "NotFound",
      message: 'jobs.batch "two" not found',
    });
  });

  it("creates a labelled pod for each Job and lists Jobs and pods by label", async () => {
    const { batch, core } = await setUp();
    const created = await batch.createNamespacedJob({ namespace: "ci", body: job("one") });
    await batch.createNamespacedJob({ namespace: "ci", body: job("two") });
    const pods = await core.listNamespacedPod({
      namespace: "ci",
      labelSelector: "batch.kubernetes.io/job-name=one",
    });
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.metadata?.labels).toEqual({
      "batch.kubernetes.io/controller-uid": created.metadata?.uid,
      "batch.kubernetes.io/job-name": "one",
      "controller-uid": created.metadata?.uid,
      "job-name": "one",
    });
    expect(pods.items[0]?.metadata?.ownerReferences?.[0]?.uid).toBe(created.metadata?.uid);
    expect(pods.items[0]?.status?.phase).toBe("Running");
    const jobs = await batch.listNamespacedJob({ namespace: "ci", labelSelector: "team=web" });
    expect(jobs.items.map((j) => j.metadata?.name)).toEqual(["one", "two"]);
    expect((await batch.listNamespacedJob({ namespace: "other" })).items).toEqual([]);
  });

  it("keeps a pod waiting for a Secret its env needs until the Secret exists", async () => {
    const { fake, core, batch } = await setUp();
    const env = [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } }];
    await batch.createNamespacedJob({ namespace: "ci", body: job("one", { env }) });
    const [waiting] = fake.pods();
    expect(waiting.status.containerStatuses[0].state.waiting).toEqual({
      reason: "CreateContainerConfigError",
      message: 'secret "creds" not found',
    });
    expect(() => fake.complete("one")).toThrow(/cannot start/);
    const log = await statusOf(core.readNamespacedPodLog({ namespace: "ci", name: waiting.metadata.name }));
    expect(log.body.message).toContain("is waiting to start: CreateContainerConfigError");

    await core.createNamespacedSecret({
      namespace: "ci",
      body: { metadata: { name: "creds" }, stringData: { token: "t" } },
    });
    expect(fake.pods()[0].status.phase).toBe("Running");
    expect(fake.envOf("one")).toEqual({ TOKEN: "t" });
  });

  it("orphans a deleted Job's pods by default and deletes them and its owned Secrets in the background", async () => {
    const { fake, batch, core } = await setUp();
    for (const name of ["kept", "gone"]) {
      const created = await batch.createNamespacedJob({ namespace: "ci", body: job(name) });
      const owner = { apiVersion: "batch/v1", kind: "Job", name, uid: created.metadata?.uid ?? "" };
      await core.createNamespacedSecret({
        namespace: "ci",
        body: { metadata: { name: `${name}-env`, ownerReferences: [owner] }, stringData: { A: "1" } },
      });
    }
    await batch.deleteNamespacedJob({ namespace: "ci", name: "kept" });
    await batch.deleteNamespacedJob({ namespace: "ci", name: "gone", propagationPolicy: "Background" });
    expect(fake.jobs()).toEqual([]);
    expect(fake.pods().map((p) => p.metadata.labels["job-name"])).toEqual(["kept"]);
    expect(fake.secrets().map((s) => s.metadata.name)).toEqual(["kept-env"]);
  });

  it("garbage-collects a Secret whose owner does not exist", async () => {
    const { fake, core } = await setUp();
    const owner = { apiVersion: "batch/v1", kind: "Job", name: "ghost", uid: "no-such-uid" };
    await core.createNamespacedSecret({
      namespace: "ci",
      body: { metadata: { name: "orphan", ownerReferences: [owner] }, stringData: { A: "1" } },
    });
    expect(fake.secrets()).toEqual([]);
  });

  it("serves pod logs with tailLines as text", async () => {
    const { fake, batch, core } = await setUp();
    await batch.createNamespacedJob({ namespace: "ci", body: job("one") });
    fake.complete("one", { log: "a\nb\nc\n" });
    const pod = fake.pods()[0].metadata.name;
    expect(await core.readNamespacedPodLog({ namespace: "ci", name: pod, tailLines: 2 })).toBe("b\nc\n");
    expect(lastLines("a\nb", 1)).toBe("b");
    expect(lastLines("a\nb\n", 0)).toBe("");
  });

  it("requires the kubeconfig's token and answers unknown paths with 404", async () => {
    const { fake } = await setUp();
    const config = new KubeConfig();
    config.loadFromString(fake.kubeconfig.replace("fake-token", "stolen"));
    const unauthorized = await statusOf(
      config.makeApiClient(BatchV1Api).readNamespacedJob({ namespace: "ci", name: "x" }),
    );
    expect(unauthorized.code).toBe(401);
    const response = await fetch(`${fake.url}/apis/apps/v1/namespaces/ci/deployments`, {
      headers: { authorization: "Bearer fake-token" },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ kind: "Status", reason: "NotFound" });
  });

  it("plays an automatic outcome once the pod runs, and fails Jobs past their deadline", async () => {
    const { fake, batch } = await setUp({
      autoComplete: (j) => (j.name === "auto" ? { terminationMessage: "OK=1" } : undefined),
      autoCompleteDelayMs: 1,
    });
    await batch.createNamespacedJob({ namespace: "ci", body: job("auto") });
    const slow = job("slow");
    if (slow.spec) slow.spec.activeDeadlineSeconds = 1;
    await batch.createNamespacedJob({ namespace: "ci", body: slow });
    const conditions = (name: string): string[] =>
      (fake.job(name).status.conditions ?? []).map(
        (c: { type: string; reason: string }) => `${c.type}/${c.reason}`,
      );
    await waitFor(() => conditions("auto").includes("Complete/CompletionsReached"), {
      what: "the automatic outcome of auto",
    });
    await waitFor(() => conditions("slow").includes("Failed/DeadlineExceeded"), {
      what: "slow to fail past its deadline of 1s",
    });
    expect(conditions("auto")).toEqual([
      "SuccessCriteriaMet/CompletionsReached",
      "Complete/CompletionsReached",
    ]);
    expect(fake.pods()[0].status.containerStatuses[0].state.terminated).toMatchObject({
      exitCode: 0,
      message: "OK=1",
    });
    expect(conditions("slow")).toEqual(["FailureTarget/DeadlineExceeded", "Failed/DeadlineExceeded"]);
    expect(fake.pods()).toHaveLength(1);
  });
});

describe("a pod's update, as the API server allows it (ValidatePodUpdate)", () => {
  const deadline = (value: unknown) => [{ op: "add", path: "/spec/activeDeadlineSeconds", value }];

  async function runningPod(options: FakeKubernetesOptions = {}, body = job("stoppable")) {
    const context = await setUp(options);
    await context.batch.createNamespacedJob({ namespace: "ci", body });
    const name = context.fake.pods()[0].metadata.name as string;
    return { ...context, name };
  }

  it("lowers activeDeadlineSeconds to 0: the kubelet kills the started pod, which keeps its log; the Job fails, no other pod", async () => {
    const { fake, core, name } = await runningPod();
    fake.writeLog("stoppable", "deploying\n");
    const patched = await core.patchNamespacedPod({ name, namespace: "ci", body: deadline(0) });

    expect(patched.status?.phase).toBe("Failed");
    expect(patched.status?.reason).toBe("DeadlineExceeded");
    expect(patched.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(137);
    expect(await core.readNamespacedPodLog({ name, namespace: "ci" })).toBe("deploying\n");
    expect(fake.pods()).toHaveLength(1);
    expect(fake.job("stoppable").status.conditions.map((c: { type: string }) => c.type)).toEqual([
      "FailureTarget",
      "Failed",
    ]);
  });

  it.each([
    ["negative", -1, /must be between 0 and 2147483647/],
    ["raised", 7200, /must be less than or equal to previous value/],
    ["removed", null, /must not update from a positive integer to nil value/],
  ])("refuses a deadline %s: 422, and the pod runs on", async (_, value, message) => {
    const body = job("limited");
    if (body.spec?.template.spec) body.spec.template.spec.activeDeadlineSeconds = 3600;
    const { fake, core, name } = await runningPod({}, body);
    const patch = value === null ? [{ op: "remove", path: "/spec/activeDeadlineSeconds" }] : deadline(value);

    const refused = await statusOf(core.patchNamespacedPod({ name, namespace: "ci", body: patch }));

    expect(refused.code).toBe(422);
    expect(refused.body.message).toMatch(message);
    expect(fake.pods()[0].status.phase).toBe("Running");
    expect(fake.pods()[0].spec.activeDeadlineSeconds).toBe(3600);
  });

  it("refuses any other change to the spec, and a patch in a format it does not know", async () => {
    const { fake, core, name } = await runningPod();
    const refused = await statusOf(
      core.patchNamespacedPod({
        name,
        namespace: "ci",
        body: [{ op: "add", path: "/spec/restartPolicy", value: "Always" }],
      }),
    );
    expect(refused.code).toBe(422);
    expect(refused.body.message).toContain("pod updates may not change fields other than");
    const answer = await fetch(`${fake.url}/api/v1/namespaces/ci/pods/${name}`, {
      method: "PATCH",
      headers: { authorization: "Bearer fake-token", "content-type": "application/json" },
      body: JSON.stringify({ spec: { activeDeadlineSeconds: 0 } }),
    });
    expect(answer.status).toBe(415);
    expect(fake.pods()[0].status.phase).toBe("Running");
  });

  it("a pod failure policy decides on the killed pod: an Ignore rule on its exit code replaces it", async () => {
    const body = job("ignoring");
    if (body.spec)
      body.spec.podFailurePolicy = {
        rules: [{ action: "Ignore", onExitCodes: { operator: "In", values: [137] } }],
      };
    const { fake, core, name } = await runningPod({}, body);
    await core.patchNamespacedPod({ name, namespace: "ci", body: deadline(0) });

    // Not counted against backoffLimit 0: a new pod runs beside the killed one, and the Job goes on.
    expect(fake.pods().map((p) => [p.metadata.name === name, p.status.phase])).toEqual([
      [true, "Failed"],
      [false, "Running"],
    ]);
    expect(fake.job("ignoring").status.conditions ?? []).toEqual([]);
  });
});
