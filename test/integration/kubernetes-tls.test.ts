import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { RetryableError } from "../../core/errors.js";
import { type FakeKubernetes, readManifests, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { forEachKubernetesClient, kubernetesClient } from "../helpers/kubernetes-clients.js";
import { baseLaunch, refOf } from "../helpers/runner-contract.js";

/**
 * A cluster served over TLS, as every real one is: the fake presents a certificate its own CA signed
 * (test/fixtures/tls), and the runner must trust that CA from the kubeconfig (or EKS's CA data), check the name,
 * and sign in with a token, a client certificate or an EKS token. With each client.
 */

const NAMESPACE = "hookflow";
const INFRA = join(import.meta.dirname, "..", "..", "infra", "kubernetes");

let fake: FakeKubernetes | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const launch = (jobName: string) =>
  baseLaunch(jobName, { kind: "run", image: "node:22", command: ["sh", "-c", "true"] });

/** A task's life on the cluster: submitted, observed, its log read, canceled. */
async function lifecycle(
  runner: Awaited<ReturnType<typeof createKubernetesRunner>>,
  cluster: FakeKubernetes,
) {
  const task = launch("hf-unit-tls-1");
  await runner.submit(task);
  cluster.start(task.jobName);
  cluster.writeLog(task.jobName, "over TLS\n");
  cluster.complete(task.jobName, { terminationMessage: "A=1" });
  expect(await runner.observe(refOf(task))).toMatchObject({ state: "succeeded", terminationMessage: "A=1" });
  expect(await runner.logs(refOf(task))).toBe("over TLS\n");
  await runner.cancel(refOf(task));
  expect(cluster.jobs()).toEqual([]);
}

const runnerOn = (kubeconfig: string) =>
  createKubernetesRunner({
    client: kubernetesClient(),
    kubeconfig,
    namespace: NAMESPACE,
    retryBudgetMs: 300,
    retryBaseDelayMs: 10,
  });

forEachKubernetesClient(() => {
  describe("a cluster served over TLS", () => {
    it("is trusted by the kubeconfig's certificate-authority-data, with a token", async () => {
      fake = await startFakeKubernetes({ tls: true, startDelayMs: "manual", namespace: NAMESPACE });
      expect(fake.url).toMatch(/^https:/);
      await lifecycle(await runnerOn(fake.kubeconfig), fake);
      expect(fake.requests.every((r) => r.user === "admin")).toBe(true);
    });

    it("signs in with a client certificate: its CN is the user, its O the group the shipped Role is bound to", async () => {
      fake = await startFakeKubernetes({
        tls: true,
        startDelayMs: "manual",
        namespace: NAMESPACE,
        authorization: { objects: readManifests(INFRA), serviceAccounts: {} },
      });
      await lifecycle(await runnerOn(fake.kubeconfigWith(undefined, { clientCertificate: true })), fake);
      expect(new Set(fake.requests.map((r) => r.user))).toEqual(new Set(["hookflow-cert-user"]));
      expect(fake.requests.every((r) => r.status !== 401 && r.status !== 403)).toBe(true);
    });

    it("without a client certificate or a token, is refused with 401 (the certificate was what signed in)", async () => {
      fake = await startFakeKubernetes({ tls: true, namespace: NAMESPACE });
      const runner = await runnerOn(fake.kubeconfigWith(undefined));
      await expect(runner.submit(launch("hf-unit-tls-2"))).rejects.toMatchObject({ code: 401 });
    });

    it("is not trusted when another CA signed its certificate: nothing is sent, and the error says why", async () => {
      fake = await startFakeKubernetes({ tls: true, namespace: NAMESPACE });
      const runner = await runnerOn(fake.kubeconfigWith("fake-token", { ca: "other" }));
      const error = await runner.submit(launch("hf-unit-tls-3")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/certificate/);
      // The TLS handshake failed: the server never read a request.
      expect(fake.requests).toEqual([]);
      expect(fake.jobs()).toEqual([]);
    });

    it("checks the certificate against tls-server-name when the kubeconfig gives one", async () => {
      fake = await startFakeKubernetes({ tls: true, namespace: NAMESPACE });
      const named = await runnerOn(fake.kubeconfigWith("fake-token", { serverName: "fake-kubernetes.test" }));
      await named.submit(launch("hf-unit-tls-4"));
      expect(fake.jobs()).toHaveLength(1);

      const misnamed = await runnerOn(fake.kubeconfigWith("fake-token", { serverName: "elsewhere.test" }));
      const error = await misnamed.submit(launch("hf-unit-tls-5")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/elsewhere\.test/);
      expect(fake.jobs()).toHaveLength(1);
    });
  });

  describe("an EKS endpoint (HOOKFLOW_EKS_ENDPOINT and HOOKFLOW_EKS_CA_DATA), over TLS", () => {
    it("is trusted by the CA data and signed in to with the function's IAM role", async () => {
      const credentials = { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret-key-0123456789" };
      const eks = { cluster: "prod", region: "eu-west-1" };
      fake = await startFakeKubernetes({
        tls: true,
        startDelayMs: "manual",
        namespace: NAMESPACE,
        authorization: { objects: readManifests(INFRA), serviceAccounts: {} },
        eks: {
          ...eks,
          credentials,
          username: "arn:aws:sts::1:assumed-role/r/fn",
          groups: ["hookflow-scheduler"],
        },
      });
      const runner = await createKubernetesRunner({
        client: kubernetesClient(),
        endpoint: { server: fake.url, caData: fake.caData },
        namespace: NAMESPACE,
        retryBudgetMs: 300,
        retryBaseDelayMs: 10,
        eks: { ...eks, credentials: async () => credentials },
      });
      await lifecycle(runner, fake);
      expect(fake.eksVerdicts.length).toBe(fake.requests.length);
      expect(fake.eksVerdicts.filter((v) => v.problem)).toEqual([]);
    });
  });
});
