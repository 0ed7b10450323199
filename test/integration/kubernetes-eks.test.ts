import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createKubernetesRunner, KubernetesRejection } from "../../core/adapters/kubernetes/index.js";
import { systemClock } from "../../core/adapters/system.js";
import { loadConfig } from "../../core/config.js";
import { ValidationError } from "../../core/errors.js";
import { buildRunner } from "../../core/wiring.js";
import {
  type EksAuthentication,
  eksTokenProblem,
  type FakeKubernetes,
  readManifests,
  startFakeKubernetes,
} from "../fake-kubernetes/index.js";
import { forEachKubernetesClient, kubernetesClient } from "../helpers/kubernetes-clients.js";
import { baseLaunch, refOf } from "../helpers/runner-contract.js";

/**
 * EKS sign-in with an IAM identity (HOOKFLOW_EKS_CLUSTER): the fake API server takes a token only when its
 * presigned STS URL is well formed and its Signature V4, computed by the fake from the specification, matches
 * the test's credentials and the fake's cluster name. It maps the identity to the group the shipped RoleBinding
 * names (what an EKS access entry does), so the shipped Role authorizes every call.
 */

const INFRA = join(import.meta.dirname, "..", "..", "infra", "kubernetes");
const NAMESPACE = "hookflow";
const CLUSTER = "prod-cluster";
const REGION = "eu-west-1";
const CREDENTIALS = {
  accessKeyId: "ASIAEXAMPLEROLE",
  secretAccessKey: "role-secret/key+0123456789abcdefghijklmnop",
  sessionToken: "role-session/token+1=",
};
const START = Date.parse("2026-12-01T13:00:00Z");

let fake: FakeKubernetes | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** The fake with EKS sign-in and the shipped RBAC; `clock` is both sides' time (the signer's and the verifier's). */
async function eksCluster(clock: { now: number }, overrides: Partial<EksAuthentication> = {}) {
  fake = await startFakeKubernetes({
    startDelayMs: "manual",
    namespace: NAMESPACE,
    authorization: { objects: readManifests(INFRA), serviceAccounts: {} },
    eks: {
      cluster: CLUSTER,
      region: REGION,
      credentials: CREDENTIALS,
      username: "arn:aws:sts::111122223333:assumed-role/hookflow-scheduler-role/fn",
      groups: ["hookflow-scheduler"],
      now: () => clock.now,
      ...overrides,
    },
  });
  return fake;
}

function runnerFor(
  cluster: FakeKubernetes,
  clock: { now: number },
  eks: { cluster?: string; credentials?: typeof CREDENTIALS } = {},
) {
  return createKubernetesRunner({
    client: kubernetesClient(),
    kubeconfig: cluster.kubeconfigWith(undefined),
    namespace: NAMESPACE,
    retryBudgetMs: 300,
    retryBaseDelayMs: 10,
    eks: {
      cluster: eks.cluster ?? CLUSTER,
      region: REGION,
      credentials: async () => eks.credentials ?? CREDENTIALS,
      now: () => clock.now,
    },
  });
}

const launch = (jobName: string) =>
  baseLaunch(jobName, { kind: "run", image: "node:22", command: ["sh", "-c", "true"] });

const signedAt = (token: string) =>
  new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString()).searchParams.get(
    "X-Amz-Date",
  );

forEachKubernetesClient(() => {
  describe("EKS sign-in with the function's IAM role", () => {
    it("runs a task's whole life on tokens the cluster verifies, with the shipped Role", async () => {
      const clock = { now: START };
      const cluster = await eksCluster(clock);
      const runner = await runnerFor(cluster, clock);
      const task = launch("hf-unit-eks-1");
      await runner.submit(task);
      expect(await runner.observe(refOf(task))).toMatchObject({ state: "pending" });
      cluster.start(task.jobName);
      cluster.writeLog(task.jobName, "hello from EKS\n");
      cluster.complete(task.jobName, { terminationMessage: "A=1" });
      expect(await runner.observe(refOf(task))).toMatchObject({
        state: "succeeded",
        terminationMessage: "A=1",
      });
      expect(await runner.logs(refOf(task))).toContain("hello from EKS");
      await runner.cancel(refOf(task));

      // Every request carried an EKS token, and every one verified; one token served them all (it is kept).
      expect(cluster.requests.length).toBeGreaterThanOrEqual(6);
      expect(cluster.requests.every((r) => r.status !== 401 && r.status !== 403)).toBe(true);
      expect(cluster.eksVerdicts).toHaveLength(cluster.requests.length);
      expect(cluster.eksVerdicts.filter((v) => v.problem)).toEqual([]);
      expect(new Set(cluster.eksVerdicts.map((v) => v.token)).size).toBe(1);
    });

    it.each([
      [
        "another key's signature",
        { credentials: { ...CREDENTIALS, secretAccessKey: "not-the-role's-key" } },
        /signature/,
      ],
      ["a token for another cluster", { cluster: "other-cluster" }, /signature/],
      ["another session", { credentials: { ...CREDENTIALS, sessionToken: "stolen" } }, /security token/],
    ])(
      "refuses %s with 401, and the runner's error says where the identity comes from",
      async (_, eks, problem) => {
        const clock = { now: START };
        const cluster = await eksCluster(clock);
        const runner = await runnerFor(cluster, clock, eks);
        const error = await runner.submit(launch("hf-unit-eks-2")).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(KubernetesRejection);
        expect((error as KubernetesRejection).code).toBe(401);
        expect((error as Error).message).toMatch(/HOOKFLOW_EKS_CLUSTER.*access entry/);
        expect(cluster.eksVerdicts.at(-1)?.problem).toMatch(problem);
        expect(cluster.jobs()).toEqual([]);
      },
    );

    it("signs a new token before the old one expires: a runner 16 minutes on still works", async () => {
      const clock = { now: START };
      const cluster = await eksCluster(clock);
      const runner = await runnerFor(cluster, clock);
      const task = launch("hf-unit-eks-3");
      await runner.submit(task);
      const first = cluster.eksVerdicts[0]?.token as string;

      clock.now = START + 16 * 60_000;
      // The first token is now past its 15 minutes: the cluster would refuse it...
      expect(eksTokenProblem(first, { ...eksSettings(), now: () => clock.now })).toMatch(/expired/);
      // ...and the runner does not present it.
      cluster.start(task.jobName);
      expect(await runner.observe(refOf(task))).toMatchObject({ state: "running" });
      const last = cluster.eksVerdicts.at(-1);
      expect(last?.problem).toBeUndefined();
      expect(last?.token).not.toBe(first);
      expect(signedAt(last?.token as string)).toBe("20261201T131600Z");
    });

    it("is refused when the token the cluster gets is older than 15 minutes (the fake can say no)", async () => {
      const clock = { now: START };
      const cluster = await eksCluster(clock);
      // A signer whose clock is 16 minutes behind the cluster's: every token it makes is already expired.
      const runner = await runnerFor(cluster, { now: START - 16 * 60_000 });
      const error = await runner.submit(launch("hf-unit-eks-4")).catch((e: unknown) => e);
      expect((error as KubernetesRejection).code).toBe(401);
      expect(cluster.eksVerdicts.at(-1)?.problem).toMatch(/expired/);
    });
  });
});

function eksSettings(): EksAuthentication {
  return {
    cluster: CLUSTER,
    region: REGION,
    credentials: CREDENTIALS,
    username: "u",
    groups: [],
  };
}

describe("HOOKFLOW_EKS_CLUSTER through the wiring", () => {
  it("builds a runner that signs in with the credentials it is given, where a kubeconfig without a user says", async () => {
    const cluster = await eksCluster({ now: Date.now() }, { now: Date.now });
    const config = loadConfig({
      HOOKFLOW_EKS_CLUSTER: CLUSTER,
      AWS_REGION: REGION,
      HOOKFLOW_KUBECONFIG: cluster.kubeconfigWith(undefined),
      HOOKFLOW_NAMESPACE: NAMESPACE,
    });
    const runner = await buildRunner({ config, clock: systemClock, awsCredentials: async () => CREDENTIALS });
    const task = launch("hf-unit-eks-5");
    await runner.submit(task);
    expect(cluster.job(task.jobName, NAMESPACE)).toBeDefined();
    expect(cluster.eksVerdicts.length).toBeGreaterThan(0);
    expect(cluster.eksVerdicts.filter((v) => v.problem)).toEqual([]);
  });

  it("refuses a kubeconfig whose user has credentials of its own, naming the setting", async () => {
    const cluster = await eksCluster({ now: START });
    const config = loadConfig({
      HOOKFLOW_EKS_CLUSTER: CLUSTER,
      HOOKFLOW_KUBECONFIG: cluster.kubeconfigWith("a-static-token"),
    });
    const error = await buildRunner({
      config,
      clock: systemClock,
      awsCredentials: async () => CREDENTIALS,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).explain()).toMatch(
      /HOOKFLOW_KUBECONFIG: its user "fake" carries credentials/,
    );
  });
});
