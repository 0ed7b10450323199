import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  buildJob,
  createKubernetesRunner,
  KubernetesRejection,
} from "../../core/adapters/kubernetes/index.js";
import type { TaskLaunch } from "../../core/model/index.js";
import { parseJobTemplate } from "../../core/model/parse.js";
import type { JobRef, Logger } from "../../core/ports.js";
import {
  readManifests,
  schemaProblems,
  serviceAccountUser,
  startFakeKubernetes,
} from "../fake-kubernetes/index.js";
import { attributesOf } from "../fake-kubernetes/rbac.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask } from "../helpers/factories.js";
import { forEachKubernetesClient, kubernetesClient } from "../helpers/kubernetes-clients.js";
import { testSystem } from "../helpers/system.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra", "kubernetes");
const EXAMPLE_JOBS = join(import.meta.dirname, "..", "..", "examples", "jobs");
const NAMESPACE = "hookflow";
const SCHEDULER = `${NAMESPACE}/hookflow-scheduler`;
const SCHEDULER_TOKEN = "scheduler-token-7d1e";
// biome-ignore lint/suspicious/noExplicitAny: manifests are read and edited field by field.
type Manifest = any;

const shipped = () => readManifests(INFRA);

function launch(overrides: Partial<TaskLaunch> = {}): TaskLaunch {
  return {
    runId: "r1",
    pipeline: "web-app",
    task: "unit",
    attempt: 1,
    jobName: "hf-unit-0123456789-1",
    timeoutSeconds: 600,
    env: { HOOKFLOW_RUN_ID: "r1", HOOKFLOW_TASK: "unit" },
    secretEnv: { HOOKFLOW_TASK_TOKEN: "task-token-1" },
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

/** The fake API server authorizing from `objects`, and a runner holding the scheduler's token. */
async function asScheduler(objects: Manifest[] = shipped(), fakeOptions = {}) {
  const fake = await startFakeKubernetes({
    startDelayMs: "manual",
    authorization: { objects, serviceAccounts: { [SCHEDULER_TOKEN]: SCHEDULER } },
    ...fakeOptions,
  });
  onTestFinished(() => fake.close());
  const runner = await createKubernetesRunner({
    client: kubernetesClient(),
    kubeconfig: fake.kubeconfigWith(SCHEDULER_TOKEN),
    namespace: NAMESPACE,
    retryBudgetMs: 300,
    requestTimeoutMs: 2000,
    retryBaseDelayMs: 10,
  });
  return { fake, runner };
}

/** The scheduler's Role with one verb taken away from one resource. */
function withoutVerb(resource: string, verb: string): Manifest[] {
  return shipped().map((object) => {
    if (object.kind !== "Role" || object.metadata.name !== "hookflow-scheduler") return object;
    return {
      ...object,
      rules: object.rules.map((rule: Manifest) =>
        rule.resources.includes(resource)
          ? { ...rule, verbs: rule.verbs.filter((v: string) => v !== verb) }
          : rule,
      ),
    };
  });
}

const schedulerRules = (): Array<{ resource: string; verb: string }> =>
  shipped()
    .find((o) => o.kind === "Role" && o.metadata.name === "hookflow-scheduler")
    .rules.flatMap((rule: Manifest) =>
      rule.resources.flatMap((resource: string) => rule.verbs.map((verb: string) => ({ resource, verb }))),
    );

/**
 * Everything the scheduler does with a task: submit it, see it pending, running, refused a pod (FailedCreate),
 * finished, read its logs, cancel it. Returns what each step gave, so a missing right shows where it bites.
 */
async function lifecycle(
  fake: Awaited<ReturnType<typeof asScheduler>>["fake"],
  runner: Awaited<ReturnType<typeof asScheduler>>["runner"],
) {
  const task = launch();
  const steps: Record<string, unknown> = {};
  const step = async (name: string, action: () => Promise<unknown>) => {
    try {
      steps[name] = await action();
    } catch (error) {
      steps[name] = error;
    }
  };
  await step("submit", () => runner.submit(task));
  if (fake.jobs().length === 0) return steps;
  await step("pending", () => runner.observe(refOf(task)));
  fake.start(task.jobName);
  fake.writeLog(task.jobName, "compiling\n");
  await step("running", () => runner.observe(refOf(task)));
  await step("logs", () => runner.logs(refOf(task)));
  fake.complete(task.jobName, { terminationMessage: "VERSION=1" });
  await step("succeeded", () => runner.observe(refOf(task)));
  await step("cancel", () => runner.cancel(refOf(task)));
  // A third attempt stopped while it runs (a cancel while the log archive is away): its pod is kept, killed.
  const stopped = launch({ attempt: 3, jobName: "hf-unit-0123456789-3" });
  await step("submit stopped", () => runner.submit(stopped));
  if (fake.jobs().some((j) => j.metadata.name === stopped.jobName)) fake.start(stopped.jobName);
  await step("stop", () => runner.stop(refOf(stopped)));
  await step("stopped", () => runner.observe(refOf(stopped)));
  // A second attempt whose pod admission refuses: only the Job's events say why.
  const refused = launch({ attempt: 2, jobName: "hf-unit-0123456789-2" });
  fake.setPodAdmission(
    () => 'error looking up service account hookflow/missing: serviceaccount "missing" not found',
  );
  await step("submit refused", () => runner.submit(refused));
  await step("failed create", () => runner.observe(refOf(refused)));
  return steps;
}

describe("the shipped manifests (infra/kubernetes)", () => {
  const files = readdirSync(INFRA).filter((f) => f.endsWith(".yaml") || f.endsWith(".yaml.example"));

  it.each(files)("%s is valid against the Kubernetes 1.34 schema, strictly", (file) => {
    const objects = parseAllDocuments(readFileSync(join(INFRA, file), "utf8")).map((d) => d.toJS());
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects)
      expect({ kind: object.kind, problems: schemaProblems(object) }).toEqual({
        kind: object.kind,
        problems: [],
      });
  });

  it("the schema check can fail: an unknown field, a wrong type and a missing field are each named", () => {
    const [role] = readManifests(INFRA).filter((o) => o.kind === "Role");
    const broken = structuredClone(role);
    broken.rules[0].verb = ["get"];
    broken.rules[0].verbs = "get";
    delete broken.metadata;
    const binding = readManifests(INFRA).find((o) => o.kind === "RoleBinding");
    delete binding.roleRef.name;
    expect(schemaProblems(broken)).toEqual([
      "rules[0].verbs: must be a list",
      "rules[0].verb: unknown field",
    ]);
    expect(schemaProblems(binding)).toEqual(["roleRef.name: required"]);
  });

  it("every example job template, and a run task, become Jobs the schema accepts", async () => {
    const launches = await Promise.all(
      readdirSync(EXAMPLE_JOBS).map(async (file) => {
        const parsed = await parseJobTemplate(readFileSync(join(EXAMPLE_JOBS, file), "utf8"));
        if (!parsed.ok) throw new Error(`${file}: ${JSON.stringify(parsed.issues)}`);
        return launch({
          source: {
            kind: "job",
            template: parsed.value.name,
            manifest: structuredClone(parsed.value.template),
          },
        });
      }),
    );
    expect(launches).toHaveLength(3);
    for (const l of [launch(), ...launches]) {
      const job = buildJob(l, { namespace: NAMESPACE, ttlSecondsAfterFinished: 86_400 });
      expect(schemaProblems(job)).toEqual([]);
      expect(job.spec?.podFailurePolicy?.rules[0]).toEqual({
        action: "Ignore",
        onPodConditions: [{ type: "DisruptionTarget", status: "True" }],
      });
    }
  });

  it("the examples' identities are there: the deployer's ServiceAccount, bound where it deploys", () => {
    const objects = shipped();
    const deployer = objects.find(
      (o) => o.kind === "ServiceAccount" && o.metadata.name === "hookflow-deployer",
    );
    expect(deployer?.metadata.namespace).toBe(NAMESPACE);
    const binding = objects.find((o) => o.kind === "RoleBinding" && o.metadata.name === "hookflow-deployer");
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "hookflow-deployer", namespace: NAMESPACE },
    ]);
    const role = objects.find(
      (o) =>
        o.kind === "Role" &&
        o.metadata.name === "hookflow-deployer" &&
        o.metadata.namespace === binding.metadata.namespace,
    );
    expect(role.rules).toEqual([
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch"] },
    ]);
    // The registry Secret is an example only: `kubectl apply -f infra/kubernetes/` must never overwrite real credentials.
    expect(objects.some((o) => o.kind === "Secret" && o.metadata.name === "registry-credentials")).toBe(
      false,
    );
  });
});

forEachKubernetesClient(() => {
  describe("the scheduler's Role", () => {
    it("lets the Kubernetes runner do a task's whole life, and grants nothing the runner does not use", async () => {
      const { fake, runner } = await asScheduler();
      const steps = await lifecycle(fake, runner);

      expect(steps).toEqual({
        submit: undefined,
        pending: { state: "pending" },
        running: { state: "running" },
        logs: "compiling\n",
        succeeded: { state: "succeeded", terminationMessage: "VERSION=1" },
        cancel: undefined,
        "submit stopped": undefined,
        stop: undefined,
        stopped: {
          state: "failed",
          message: "the task was stopped: its pod's deadline was set to 0 and its containers killed",
        },
        "submit refused": undefined,
        "failed create": {
          state: "failed",
          message: expect.stringContaining('serviceaccount "missing" not found'),
        },
      });
      expect(fake.requests.filter((r) => r.status === 403 || r.status === 401)).toEqual([]);
      expect(fake.serverErrors).toEqual([]);
      const used = new Set(
        fake.requests.map((r) => {
          const a = attributesOf(r.method, r.path, new URLSearchParams(r.query));
          return a && `${a.subresource ? `${a.resource}/${a.subresource}` : a.resource} ${a.verb}`;
        }),
      );
      expect(new Set(schedulerRules().map((r) => `${r.resource} ${r.verb}`))).toEqual(used);
    });

    it.each(schedulerRules())(
      "without $verb on $resource, a step fails with a 403 naming what to grant",
      async ({ resource, verb }) => {
        const { fake, runner } = await asScheduler(withoutVerb(resource, verb));
        const steps = await lifecycle(fake, runner);

        const refusals = Object.values(steps).filter((s) => s instanceof KubernetesRejection);
        expect(refusals.length).toBeGreaterThan(0);
        for (const refusal of refusals as KubernetesRejection[]) {
          expect(refusal.code).toBe(403);
          expect(refusal.message).toContain(
            `User "${serviceAccountUser(SCHEDULER)}" cannot ${verb} resource "${resource}" in API group`,
          );
          expect(refusal.message).toContain(`to fix: grant the verb "${verb}" on resource "${resource}"`);
        }
        if (resource === "secrets")
          // The Job whose Secret was refused is deleted, not left waiting for it until its deadline.
          expect(fake.jobs()).toEqual([]);
      },
    );
  });

  describe("an observation the cluster refuses", () => {
    it("is logged once per reconcile, naming the missing verb and resource; the task is not lost", async () => {
      const { fake, runner } = await asScheduler(withoutVerb("pods", "list"), { startDelayMs: 0 });
      const warnings: Array<{ message: string; fields?: Record<string, unknown> }> = [];
      const log: Logger = {
        info: () => {},
        warn: (message, fields) => warnings.push({ message, ...(fields && { fields }) }),
        error: () => {},
      };
      const system = await testSystem({ runner, log });
      const run = newRun({
        id: "rbac403",
        pipeline: pipeline({ stages: [{ name: "s", tasks: [runTask("a")] }] }),
      });
      await system.stores.runs.saveRun(run);
      await system.queue.send([
        { runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` },
      ]);
      const running = await driveRun(system, run.id, {
        done: (r) => r.stages[0]?.tasks[0]?.status === "running",
      });
      const jobName = running.stages[0]?.tasks[0]?.jobName as string;
      fake.complete(jobName, { terminationMessage: "A=1" });
      warnings.length = 0;

      await system.scheduler.handle({ runId: run.id, event: { type: "reconcile" } });
      await system.scheduler.handle({ runId: run.id, event: { type: "reconcile" } });

      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toEqual({
        message: `could not observe 1 Job(s) of run ${run.id}`,
        fields: {
          runId: run.id,
          failures: [
            {
              task: "a",
              jobName,
              error: expect.stringContaining(
                `cannot list resource "pods" in API group "" in the namespace "${NAMESPACE}" (403); to fix: grant the verb "list" on resource "pods"`,
              ),
            },
          ],
        },
      });
      expect((await system.stores.runs.getRun(run.id))?.stages[0]?.tasks[0]?.status).toBe("running");
    });
  });
});

describe("the fake API server refuses what the real one would", () => {
  it("a Job with a wrong type or an unknown field: 422 naming each field, and nothing is created", async () => {
    const fake = await startFakeKubernetes({ token: "admin" });
    onTestFinished(() => fake.close());
    const job = buildJob(launch(), { namespace: "ci", ttlSecondsAfterFinished: 60 }) as Manifest;
    job.spec.backoffLimit = "0";
    job.spec.template.spec.containers[0].imagePullPolicy = ["Always"];
    job.spec.template.spec.containers[0].imagge = "node:22";

    const answer = await fetch(`${fake.url}/apis/batch/v1/namespaces/ci/jobs`, {
      method: "POST",
      headers: { authorization: "Bearer admin", "content-type": "application/json" },
      body: JSON.stringify(job),
    });

    expect(answer.status).toBe(422);
    const status = (await answer.json()) as { details: { causes: Array<{ field: string }> } };
    expect(status.details.causes.map((c) => c.field).sort()).toEqual([
      "spec.backoffLimit",
      "spec.template.spec.containers[0].imagePullPolicy",
      "spec.template.spec.containers[0].imagge",
    ]);
    expect(fake.jobs()).toEqual([]);
  });
});
