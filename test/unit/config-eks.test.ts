import { describe, expect, it } from "vitest";
import { loadKubeconfig } from "../../core/adapters/kubernetes/client.js";
import { loadConfig, runnerKind } from "../../core/config.js";
import { ValidationError } from "../../core/errors.js";

const ENDPOINT = "https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com";
const CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=";
const KUBECONFIG = "apiVersion: v1\nkind: Config\n";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

describe("HOOKFLOW_EKS_CLUSTER", () => {
  it("with an endpoint and CA, or a kubeconfig, chooses the Kubernetes runner", () => {
    for (const env of [
      { HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_EKS_ENDPOINT: ENDPOINT, HOOKFLOW_EKS_CA_DATA: CA },
      { HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_KUBECONFIG: KUBECONFIG },
    ]) {
      const config = loadConfig(env);
      expect(runnerKind(config)).toBe("kubernetes");
      expect(config.HOOKFLOW_EKS_CLUSTER).toBe("prod");
    }
  });

  it("empty settings count as unset", () => {
    const config = loadConfig({
      HOOKFLOW_EKS_CLUSTER: "",
      HOOKFLOW_EKS_ENDPOINT: "",
      HOOKFLOW_EKS_CA_DATA: "",
    });
    expect(runnerKind(config)).toBe("local");
  });

  it.each([
    [
      { HOOKFLOW_EKS_CLUSTER: "prod" },
      /HOOKFLOW_EKS_ENDPOINT: HOOKFLOW_EKS_CLUSTER \("prod"\) needs to know where/,
    ],
    [{ HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_EKS_ENDPOINT: ENDPOINT }, /HOOKFLOW_EKS_CA_DATA: is needed/],
    [{ HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_EKS_CA_DATA: CA }, /HOOKFLOW_EKS_ENDPOINT: is needed with/],
    [
      { HOOKFLOW_EKS_ENDPOINT: ENDPOINT, HOOKFLOW_EKS_CA_DATA: CA },
      /HOOKFLOW_EKS_ENDPOINT: is used only with/,
    ],
    [
      {
        HOOKFLOW_EKS_CLUSTER: "prod",
        HOOKFLOW_EKS_ENDPOINT: ENDPOINT,
        HOOKFLOW_EKS_CA_DATA: CA,
        HOOKFLOW_KUBECONFIG: KUBECONFIG,
      },
      /HOOKFLOW_EKS_ENDPOINT: and a kubeconfig .* both say/,
    ],
    [
      { HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_KUBECONFIG: KUBECONFIG, HOOKFLOW_RUNNER: "local" },
      /HOOKFLOW_RUNNER: is local/,
    ],
    [{ HOOKFLOW_EKS_CLUSTER: "-bad name" }, /HOOKFLOW_EKS_CLUSTER: an EKS cluster name/],
    [
      { HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_EKS_ENDPOINT: "http://10.0.0.1", HOOKFLOW_EKS_CA_DATA: CA },
      /HOOKFLOW_EKS_ENDPOINT: the cluster's https:\/\/ endpoint/,
    ],
    [
      { HOOKFLOW_EKS_CLUSTER: "prod", HOOKFLOW_EKS_ENDPOINT: ENDPOINT, HOOKFLOW_EKS_CA_DATA: "not base64!" },
      /HOOKFLOW_EKS_CA_DATA: base64/,
    ],
  ])("refuses %j naming the setting", (env, expected) => {
    expect(problems(env).join("\n")).toMatch(expected);
  });
});

describe("where the EKS cluster is, without a kubeconfig", () => {
  it("is the endpoint and CA given, with a user that carries nothing", () => {
    const config = loadKubeconfig({
      endpoint: { server: ENDPOINT, caData: CA },
      bearerToken: async () => "t",
    });
    expect(config.getCurrentCluster()).toMatchObject({ server: ENDPOINT, caData: CA });
    expect(config.getCurrentUser()).toEqual({ name: "iam" });
  });
});
