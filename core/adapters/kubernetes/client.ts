import {
  AbortError,
  ApiException,
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  FetchError,
  KubeConfig,
  type Middleware,
  type RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { ValidationError } from "../../errors.js";
import { type KubernetesApis, KubernetesHttpError, KubernetesTransportError } from "./apis.js";
import type { KubeconfigSource } from "./connect.js";

export type { KubeconfigSource } from "./connect.js";

/** client-node's own API objects, for what only it does (the relay's informers). */
export interface ClientNodeApis {
  batch: BatchV1Api;
  core: CoreV1Api;
  authorization: AuthorizationV1Api;
}

/**
 * The kubeconfig, checked at start: one the client cannot read, or without a current cluster, is a configuration
 * error naming its setting (the client's own YAMLException names nothing, and without a cluster it would quietly
 * talk to localhost:8080).
 */
export function loadKubeconfig(source: KubeconfigSource): KubeConfig {
  const setting = source.endpoint
    ? "HOOKFLOW_EKS_ENDPOINT"
    : source.kubeconfig
      ? "HOOKFLOW_KUBECONFIG"
      : "KUBECONFIG";
  const invalid = (message: string) =>
    new ValidationError("invalid configuration", [{ path: setting, message }]);
  const config = new KubeConfig();
  try {
    if (source.endpoint) {
      const cluster = { name: "eks", server: source.endpoint.server, caData: source.endpoint.caData };
      config.loadFromOptions({
        clusters: [cluster],
        users: [{ name: "iam" }],
        contexts: [{ name: "eks", cluster: "eks", user: "iam" }],
        currentContext: "eks",
      });
    } else if (source.kubeconfig) config.loadFromString(source.kubeconfig);
    else if (source.kubeconfigPath) config.loadFromFile(source.kubeconfigPath);
    else config.loadFromDefault();
  } catch (error) {
    throw invalid(`is not a kubeconfig the Kubernetes client can read: ${firstLine(error)}`);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster?.server)
    throw invalid(
      `names no cluster with a server: its current-context ("${config.getCurrentContext() ?? ""}") must name a context whose cluster has a server URL`,
    );
  // client-node would refuse each request; the built-in client too.
  if (cluster.server.startsWith("http:") && !cluster.skipTLSVerify && !cluster.proxyUrl)
    throw invalid(
      `its cluster "${cluster.name}" is served over plain http: (${cluster.server}): use https:, or set insecure-skip-tls-verify: true for a test cluster`,
    );
  const user = config.getCurrentUser();
  if (source.bearerToken && user && hasCredentials(user))
    throw invalid(
      `its user "${user.name}" carries credentials, but with HOOKFLOW_EKS_CLUSTER hookflow signs in with its own IAM role: remove the user's token, certificate, exec or auth-provider (a kubeconfig without a user is enough)`,
    );
  return config;
}

const hasCredentials = (user: NonNullable<ReturnType<KubeConfig["getCurrentUser"]>>) =>
  Boolean(
    user.token ||
      user.authProvider ||
      user.exec ||
      user.certData ||
      user.certFile ||
      user.keyData ||
      user.keyFile ||
      user.username ||
      user.password,
  );

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/**
 * The API calls through client-node, each request bounded by `requestTimeoutMs`, with its errors as
 * `KubernetesApis` says (the built-in client's). Objects come as client-node gives them (times as Dates).
 */
export function makeApis(
  config: KubeConfig,
  requestTimeoutMs: number,
  bearerToken?: () => Promise<string>,
): KubernetesApis {
  const { batch, core, authorization } = clientNodeApis(config, requestTimeoutMs, bearerToken);
  return {
    createJob: (namespace, body) => translated(batch.createNamespacedJob({ namespace, body })),
    readJob: (namespace, name) => translated(batch.readNamespacedJob({ name, namespace })),
    deleteJob: async (namespace, name) => {
      await translated(batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" }));
    },
    createSecret: async (namespace, body) => {
      await translated(core.createNamespacedSecret({ namespace, body }));
    },
    listPods: async (namespace, labelSelector) =>
      (await translated(core.listNamespacedPod({ namespace, labelSelector }))).items,
    patchPod: async (namespace, name, body) => {
      await translated(core.patchNamespacedPod({ name, namespace, body }));
    },
    readPodLog: (namespace, name, query) =>
      translated(core.readNamespacedPodLog({ name, namespace, ...query })),
    listEvents: async (namespace, fieldSelector) =>
      (await translated(core.listNamespacedEvent({ namespace, fieldSelector }))).items,
    reviewAccess: (body) => translated(authorization.createSelfSubjectAccessReview({ body })),
  };
}

/** client-node's errors as `KubernetesApis` gives them: an answer's code, body and headers; no answer. */
async function translated<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof ApiException)
      throw new KubernetesHttpError(error.code, error.body, lowerCased(error.headers), { cause: error });
    if (error instanceof AbortError)
      throw new KubernetesTransportError("the request timed out", true, { cause: error });
    if (error instanceof FetchError)
      throw new KubernetesTransportError(error.message, false, { cause: error });
    throw error;
  }
}

function lowerCased(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

/** client-node's API objects for this kubeconfig, each request bounded by `requestTimeoutMs`. */
export function clientNodeApis(
  config: KubeConfig,
  requestTimeoutMs: number,
  bearerToken?: () => Promise<string>,
): ClientNodeApis {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  // client-node 1.x sends through node-fetch and takes an AbortSignal per request, which only a middleware can
  // set: `makeApiClient` offers no timeout.
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: authenticationFor(config, bearerToken) },
    promiseMiddleware: [timeoutMiddleware(requestTimeoutMs)],
  });
  return {
    batch: new BatchV1Api(configuration),
    core: new CoreV1Api(configuration),
    authorization: new AuthorizationV1Api(configuration),
  };
}

function timeoutMiddleware(ms: number): Middleware {
  return {
    pre: async (context) => {
      context.setSignal(AbortSignal.timeout(ms));
      return context;
    },
    post: async (context) => context,
  };
}

/** How requests sign in: the kubeconfig's own user, or a bearer token of hookflow's own (EKS). */
function authenticationFor(config: KubeConfig, bearerToken?: () => Promise<string>): SecurityAuthentication {
  return bearerToken ? new TokenAuthentication(config, bearerToken) : config;
}

/**
 * The kubeconfig's connection (server, CA, TLS options) with a bearer token asked for on every request, so that
 * a token renewed by its source (an EKS token lasts 15 minutes) is used as soon as it exists. client-node 1.x
 * applies `authMethods.default` to each request; the KubeConfig is itself such a method, and sets the agent.
 */
class TokenAuthentication implements SecurityAuthentication {
  constructor(
    private readonly config: KubeConfig,
    private readonly token: () => Promise<string>,
  ) {}

  getName(): string {
    return "bearer token of hookflow's own";
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.config.applySecurityAuthentication(context);
    context.setHeaderParam("Authorization", `Bearer ${await this.token()}`);
  }
}
