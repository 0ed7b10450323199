import type { KubernetesApis } from "./apis.js";
import { type Connection, httpApis } from "./http-client.js";

export interface KubeconfigSource {
  /** Kubeconfig text (HOOKFLOW_KUBECONFIG). */
  kubeconfig?: string;
  /** A kubeconfig file; without either, KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfigPath?: string;
  /**
   * The cluster's API endpoint and CA instead of a kubeconfig (HOOKFLOW_EKS_ENDPOINT, HOOKFLOW_EKS_CA_DATA: the
   * CA as `aws eks describe-cluster` gives it, base64 PEM). Only with a bearer token of hookflow's own (EKS).
   */
  endpoint?: { server: string; caData: string };
  /**
   * Requests carry this bearer token (an EKS token signed with the function's IAM role) instead of the
   * kubeconfig's user, which must then have no credentials of its own: two identities would be one too many.
   */
  bearerToken?: () => Promise<string>;
}

/**
 * Which client talks to the cluster. `built-in` (http-client.ts) takes the credentials a function is given inline:
 * the EKS endpoint with hookflow's IAM token, or a kubeconfig text whose user has a token or a client certificate
 * and whose cluster has no proxy. `client-node` (@kubernetes/client-node) takes any kubeconfig: files, exec and
 * auth-provider plugins, the in-cluster service account, proxies. `auto`: built-in when it can, else client-node.
 */
export type KubernetesClient = "auto" | "built-in" | "client-node";

/**
 * The API calls, through the built-in client when the credentials allow, else through @kubernetes/client-node,
 * loaded only then (a scheduler's cold start pays for what it loads). Every request is bounded by
 * `requestTimeoutMs`. A kubeconfig neither can use is a ValidationError naming its setting (see loadKubeconfig).
 */
export async function connectKubernetes(
  source: KubeconfigSource,
  requestTimeoutMs: number,
  client: KubernetesClient = "auto",
): Promise<KubernetesApis> {
  if (client !== "client-node") {
    const connection = await builtInConnection(source);
    if (connection) return httpApis(connection, requestTimeoutMs);
  }
  const { loadKubeconfig, makeApis } = await import("./client.js");
  const apis = makeApis(loadKubeconfig(source), requestTimeoutMs, source.bearerToken);
  if (client === "built-in")
    throw new Error("the built-in Kubernetes client cannot use these credentials (see KubernetesClient)");
  return apis;
}

/**
 * What the built-in client needs, or undefined when this source is for client-node: a kubeconfig file or the
 * default lookup, credentials or TLS settings it does not take, or a kubeconfig with a problem (which
 * loadKubeconfig, the one place that judges kubeconfigs, then names).
 */
export async function builtInConnection(source: KubeconfigSource): Promise<Connection | undefined> {
  const token = source.bearerToken;
  if (source.endpoint)
    return {
      server: source.endpoint.server.replace(/\/$/, ""),
      ca: Buffer.from(source.endpoint.caData, "base64"),
      skipTlsVerify: false,
      ...(token && { token }),
    };
  if (!source.kubeconfig) return undefined;
  const text = source.kubeconfig;
  let parsed: unknown;
  // JSON is YAML too, and needs no parser to load. YAML is read as client-node reads it (js-yaml's load), in a
  // few milliseconds where the `yaml` package takes about 14.
  const load = text.trimStart().startsWith("{") ? JSON.parse : (await import("js-yaml")).load;
  try {
    parsed = load(text);
  } catch {
    return undefined;
  }
  const config = record(parsed);
  if (!config || !wellFormed(config)) return undefined;
  const context = named(config?.contexts, config?.["current-context"], "context");
  const cluster = named(config?.clusters, context?.cluster, "cluster");
  if (!context || !cluster || typeof cluster.server !== "string" || !cluster.server) return undefined;
  if (CLUSTER_SETTINGS_FOR_CLIENT_NODE.some((key) => key in cluster)) return undefined;
  const user = context.user === undefined ? undefined : named(config?.users, context.user, "user");
  if (user && USER_SETTINGS_FOR_CLIENT_NODE.some((key) => key in user)) return undefined;
  const userToken = text_(user?.token);
  const cert = text_(user?.["client-certificate-data"]);
  const key = text_(user?.["client-key-data"]);
  if (token && (userToken || cert || key)) return undefined;
  const server = cluster.server.replace(/\/$/, "");
  const skipTlsVerify = cluster["insecure-skip-tls-verify"] === true;
  if (server.startsWith("http:") && !skipTlsVerify) return undefined;
  const ca = text_(cluster["certificate-authority-data"]);
  const serverName = text_(cluster["tls-server-name"]);
  const bearer = token ?? (userToken ? async () => userToken : undefined);
  return {
    server,
    skipTlsVerify,
    ...(ca && { ca: Buffer.from(ca, "base64") }),
    ...(cert && { cert: Buffer.from(cert, "base64") }),
    ...(key && { key: Buffer.from(key, "base64") }),
    ...(serverName && { serverName }),
    ...(bearer && { token: bearer }),
  };
}

/** What only client-node does with a kubeconfig's cluster: files, proxies. */
const CLUSTER_SETTINGS_FOR_CLIENT_NODE = ["certificate-authority", "proxy-url"];
/** ... and with its user: files, plugins, basic auth, impersonation. */
const USER_SETTINGS_FOR_CLIENT_NODE = [
  "client-certificate",
  "client-key",
  "token-file",
  "exec",
  "auth-provider",
  "username",
  "password",
  "as",
];

/** client-node refuses a kubeconfig with a list entry short of these (config_types.js); so does this. */
function wellFormed(config: Record<string, unknown>): boolean {
  const entries = (list: unknown) => (Array.isArray(list) ? list.map(record) : []);
  return (
    entries(config.clusters).every((c) => c?.name && text_(record(c.cluster)?.server)) &&
    entries(config.users).every((u) => u?.name) &&
    entries(config.contexts).every((c) => c?.name && record(c.context)?.cluster)
  );
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

const text_ = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

/** The entry of a kubeconfig list with this name, its `field` (client-node takes the first of a name). */
function named(list: unknown, name: unknown, field: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list) || typeof name !== "string" || name === "") return undefined;
  return record(list.map(record).find((entry) => entry?.name === name)?.[field]);
}
