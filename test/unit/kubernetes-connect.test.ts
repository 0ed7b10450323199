import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { builtInConnection, connectKubernetes } from "../../core/adapters/kubernetes/connect.js";
import { ValidationError } from "../../core/errors.js";

/** Which client a kubeconfig gets: the built-in one for what it takes, client-node for the rest. */

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");

function kubeconfig(
  cluster: Record<string, unknown> = {},
  user: Record<string, unknown> | undefined = { token: "t0ken" },
) {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "other", cluster: { server: "https://other.example" } },
      {
        name: "c",
        cluster: {
          server: "https://k8s.example:6443/",
          "certificate-authority-data": CA.toString("base64"),
          ...cluster,
        },
      },
    ],
    users: [{ name: "u", ...(user && { user }) }],
    contexts: [
      { name: "x", context: { cluster: "other", user: "u" } },
      { name: "ctx", context: { cluster: "c", user: "u", namespace: "ci" } },
    ],
    "current-context": "ctx",
  });
}

describe("the built-in client", () => {
  it("takes a kubeconfig's current context: its cluster's server and CA, its user's token", async () => {
    const connection = await builtInConnection({ kubeconfig: kubeconfig() });
    expect(connection).toMatchObject({ server: "https://k8s.example:6443", ca: CA, skipTlsVerify: false });
    expect(await connection?.token?.()).toBe("t0ken");
  });

  it("takes the same kubeconfig written as JSON", async () => {
    const { parse } = await import("yaml");
    const json = JSON.stringify(parse(kubeconfig()));
    expect(await builtInConnection({ kubeconfig: json })).toMatchObject({
      server: "https://k8s.example:6443",
    });
  });

  it("takes a kubeconfig as `kubectl config view --raw -o json` prints it (the README's deploy)", async () => {
    const printed = `{
    "kind": "Config",
    "apiVersion": "v1",
    "preferences": {},
    "clusters": [
        {
            "name": "cluster",
            "cluster": {
                "server": "https://k8s.example:6443",
                "certificate-authority-data": "${CA.toString("base64")}"
            }
        }
    ],
    "users": [{ "name": "hookflow-scheduler", "user": { "token": "t0ken" } }],
    "contexts": [
        {
            "name": "hookflow",
            "context": { "cluster": "cluster", "user": "hookflow-scheduler", "namespace": "hookflow" }
        }
    ],
    "current-context": "hookflow"
}
`;
    const connection = await builtInConnection({ kubeconfig: printed });
    expect(connection).toMatchObject({ server: "https://k8s.example:6443", ca: CA, skipTlsVerify: false });
    expect(await connection?.token?.()).toBe("t0ken");
  });

  it("takes a client certificate and key, insecure-skip-tls-verify and tls-server-name", async () => {
    const connection = await builtInConnection({
      kubeconfig: kubeconfig(
        { "insecure-skip-tls-verify": true, "tls-server-name": "api.internal" },
        { "client-certificate-data": "Y2VydA==", "client-key-data": "a2V5" },
      ),
    });
    expect(connection).toMatchObject({
      cert: Buffer.from("cert"),
      key: Buffer.from("key"),
      skipTlsVerify: true,
      serverName: "api.internal",
    });
    expect(connection?.token).toBeUndefined();
  });

  it("takes the EKS endpoint and CA, with hookflow's own token", async () => {
    const token = async () => "k8s-aws-v1.x";
    const connection = await builtInConnection({
      endpoint: { server: "https://ABC.gr7.eu-west-1.eks.amazonaws.com", caData: CA.toString("base64") },
      bearerToken: token,
    });
    expect(connection).toEqual({
      server: "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
      ca: CA,
      skipTlsVerify: false,
      token,
    });
  });

  it.each([
    ["an exec plugin", {}, { exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1beta1" } }],
    ["an auth-provider", {}, { "auth-provider": { name: "oidc" } }],
    ["a token file", {}, { "token-file": "/var/run/token" }],
    ["a client certificate file", {}, { "client-certificate": "/c.pem", "client-key": "/k.pem" }],
    ["basic auth", {}, { username: "a", password: "b" }],
    ["impersonation", {}, { token: "t", as: "someone" }],
    ["a CA file", { "certificate-authority": "/ca.pem" }, { token: "t" }],
    ["a proxy", { "proxy-url": "http://proxy:3128" }, { token: "t" }],
  ])("leaves a kubeconfig with %s to client-node", async (_, cluster, user) => {
    expect(await builtInConnection({ kubeconfig: kubeconfig(cluster, user) })).toBeUndefined();
  });

  it("leaves a kubeconfig file, and the default lookup, to client-node", async () => {
    expect(await builtInConnection({ kubeconfigPath: "/home/ci/.kube/config" })).toBeUndefined();
    expect(await builtInConnection({})).toBeUndefined();
  });
});

describe("a kubeconfig neither client can use", () => {
  it.each([
    ["not YAML", "clusters: [", /HOOKFLOW_KUBECONFIG.*not a kubeconfig/],
    [
      "a cluster without a server",
      kubeconfig({ server: "" }),
      /HOOKFLOW_KUBECONFIG.*(not a kubeconfig|names no cluster)/,
    ],
    [
      "a current-context that names nothing",
      kubeconfig().replace("current-context: ctx", "current-context: gone"),
      /names no cluster with a server/,
    ],
    [
      "plain http without insecure-skip-tls-verify",
      kubeconfig({ server: "http://k8s.example:8080" }),
      /plain http: .*insecure-skip-tls-verify/,
    ],
  ])(
    "is refused at start, naming the setting, whichever client is asked for: %s",
    async (_, text, message) => {
      for (const client of ["auto", "built-in", "client-node"] as const) {
        const error = await connectKubernetes({ kubeconfig: text }, 1000, client).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect(JSON.stringify((error as ValidationError).issues)).toMatch(message);
      }
    },
  );

  it("is refused when its user signs in too, with hookflow's own EKS token", async () => {
    const error = await connectKubernetes(
      { kubeconfig: kubeconfig(), bearerToken: async () => "k8s-aws-v1.x" },
      1000,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(JSON.stringify((error as ValidationError).issues)).toMatch(/carries credentials/);
  });

  it("the built-in client, asked for by name, says it cannot take credentials only client-node takes", async () => {
    const exec = kubeconfig(
      {},
      { exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1beta1" } },
    );
    await expect(connectKubernetes({ kubeconfig: exec }, 1000, "built-in")).rejects.toThrow(
      /built-in Kubernetes client cannot use these credentials/,
    );
    await expect(connectKubernetes({ kubeconfig: exec }, 1000, "auto")).resolves.toBeDefined();
  });
});
