import { describe, expect, it, onTestFinished } from "vitest";
import {
  createKubernetesRunner,
  type KubernetesRunnerOptions,
  KubernetesTransportError,
} from "../../core/adapters/kubernetes/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import type { TaskLaunch } from "../../core/model/index.js";
import type { JobRef } from "../../core/ports.js";
import { type Fault, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { jobTemplate } from "../helpers/factories.js";
import { forEachKubernetesClient, kubernetesClient } from "../helpers/kubernetes-clients.js";
import { waitFor } from "../helpers/wait.js";

// A request timeout far above a healthy answer's time on a loaded machine, so only injected delays time out.
const BUDGET_MS = 3000;
const TIMEOUT_MS = 1000;

async function setUp(runnerOptions: Partial<KubernetesRunnerOptions> = {}) {
  const fake = await startFakeKubernetes();
  onTestFinished(() => fake.close());
  const runner = await createKubernetesRunner({
    client: kubernetesClient(),
    kubeconfig: fake.kubeconfig,
    namespace: "ci",
    retryBudgetMs: BUDGET_MS,
    requestTimeoutMs: TIMEOUT_MS,
    retryBaseDelayMs: 10,
    ...runnerOptions,
  });
  return { fake, runner };
}

const LAUNCH: TaskLaunch = {
  runId: "r1",
  pipeline: "web-app",
  task: "unit",
  attempt: 1,
  jobName: "hf-unit-0123456789-1",
  timeoutSeconds: 600,
  env: { HOOKFLOW_TASK: "unit" },
  secretEnv: { HOOKFLOW_TASK_TOKEN: "token" },
  source: { kind: "run", image: "node:22", command: ["npm", "test"] },
};
const REF: JobRef = { runId: "r1", task: "unit", attempt: 1, jobName: LAUNCH.jobName };

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: Error) => error,
  );
  if (!outcome) throw new Error("expected the call to fail");
  return outcome;
}

forEachKubernetesClient(() => {
  describe("transient API faults", () => {
    it.each<[string, Fault]>([
      ["500", { status: 500 }],
      ["429", { status: 429 }],
      ["a dropped connection", { dropConnection: true }],
      ["an answer slower than the request timeout", { delayMs: TIMEOUT_MS * 3 }],
    ])("retries %s twice over to success", async (_, fault) => {
      const { fake, runner } = await setUp({ retryBudgetMs: 20_000 });
      fake.injectFault({ ...fault, method: "POST", pathIncludes: "/jobs", times: 2 });
      await runner.submit(LAUNCH);
      expect(fake.requestsTo("POST", "/jobs")).toHaveLength(3);
      expect(fake.jobs()).toHaveLength(1);
      expect(fake.secrets()).toHaveLength(1);
    });

    it("gives up with RetryableError once the budget is spent on a persistent 500", async () => {
      const { fake, runner } = await setUp();
      fake.injectFault({
        status: 500,
        message: "etcdserver: leader changed",
        times: Number.POSITIVE_INFINITY,
      });
      const error = await failureOf(runner.observe(REF));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toMatch(
        /^could not read Job "hf-unit-0123456789-1": .*etcdserver: leader changed \(500\)/,
      );
      // Bounded by counting, not timing: it retried, and sent nothing after it gave up.
      const attempts = Number(/\((\d+) attempts\)/.exec(error.message)?.[1]);
      expect(attempts).toBeGreaterThan(2);
      expect(fake.requests).toHaveLength(attempts);
    });

    it("gives up with RetryableError when every answer is slower than the timeout, closing each request", async () => {
      const { fake, runner } = await setUp();
      fake.injectFault({ delayMs: TIMEOUT_MS * 3, times: Number.POSITIVE_INFINITY });
      const error = await failureOf(runner.submit(LAUNCH));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toContain("timed out");
      // Ended by the client's own limit on the request, not by the backstop.
      expect(error.cause).toBeInstanceOf(KubernetesTransportError);
      expect(error.cause).toMatchObject({ timedOut: true });
      const attempts = Number(/\((\d+) attempts\)/.exec(error.message)?.[1]);
      expect(attempts).toBeGreaterThan(1);
      expect(fake.requests).toHaveLength(attempts);
      // The client hung up on each slow request instead of leaving it open (the server notices a moment later).
      await waitFor(() => fake.requests.every((r) => r.abandoned), {
        what: "the fake to see every slow request abandoned",
      });
    });

    it("carries a Retry-After beyond the budget to the error, without waiting for it", async () => {
      const { fake, runner } = await setUp();
      fake.injectFault({ status: 429, retryAfterSeconds: 30, times: Number.POSITIVE_INFINITY });
      const started = performance.now();
      const error = await failureOf(runner.cancel(REF));
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).retryAfterSeconds).toBe(30);
      expect(fake.requests).toHaveLength(1);
      // Waiting would take the whole 30 s; half of it leaves any loaded machine room.
      expect(performance.now() - started).toBeLessThan(15_000);
    });
  });

  describe("refusals", () => {
    it.each([
      [
        403,
        "Forbidden",
        'jobs.batch is forbidden: User "system:serviceaccount:ci:hookflow" cannot create resource "jobs"',
      ],
      [
        422,
        "Invalid",
        'Job.batch "hf-unit-0123456789-1" is invalid: spec.template.spec.containers[0].image: Required value',
      ],
      [
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      ],
    ])(
      "turns %i into a PermanentError carrying the API's message, without retrying",
      async (status, reason, message) => {
        const { fake, runner } = await setUp();
        fake.injectFault({ method: "POST", pathIncludes: "/jobs", status, reason, message });
        const error = await failureOf(runner.submit(LAUNCH));
        expect(error).toBeInstanceOf(PermanentError);
        expect(error.message).toContain(message);
        expect(error.message).toContain(`(${status})`);
        expect(fake.requests).toHaveLength(1);
      },
    );

    it("turns a 401 from a wrong token into a PermanentError", async () => {
      const fake = await startFakeKubernetes({ token: "right" });
      onTestFinished(() => fake.close());
      const runner = await createKubernetesRunner({
        client: kubernetesClient(),
        kubeconfig: fake.kubeconfig.replace("token: right", "token: wrong"),
        namespace: "ci",
        retryBudgetMs: BUDGET_MS,
      });
      const error = await failureOf(runner.observe(REF));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain("(401)");
    });

    it("refuses an invalid manifest before sending anything, naming the field", async () => {
      const { fake, runner } = await setUp();
      const manifest = structuredClone(jobTemplate().template);
      // @ts-expect-error: the image is required by the type; a rendered template can still lack it.
      delete manifest.spec.template.spec.containers[0].image;
      const error = await failureOf(
        runner.submit({ ...LAUNCH, source: { kind: "job", template: "kaniko-build", manifest } }),
      );
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain("spec.template.spec.containers[0].image: required");
      expect(fake.requests).toEqual([]);
    });
  });
});
