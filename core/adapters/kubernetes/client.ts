import {
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  type Middleware,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { ValidationError } from "../../errors.js";

export interface KubeconfigSource {
  /** Kubeconfig text (HOOKFLOW_KUBECONFIG). */
  kubeconfig?: string;
  /** A kubeconfig file; without either, KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfigPath?: string;
}

export interface KubernetesApis {
  batch: BatchV1Api;
  core: CoreV1Api;
}

/**
 * The kubeconfig, checked at start: one the client cannot read, or without a current cluster, is a configuration
 * error naming its setting (the client's own YAMLException names nothing, and without a cluster it would quietly
 * talk to localhost:8080).
 */
export function loadKubeconfig(source: KubeconfigSource): KubeConfig {
  const setting = source.kubeconfig ? "HOOKFLOW_KUBECONFIG" : "KUBECONFIG";
  const invalid = (message: string) =>
    new ValidationError("invalid configuration", [{ path: setting, message }]);
  const config = new KubeConfig();
  try {
    if (source.kubeconfig) config.loadFromString(source.kubeconfig);
    else if (source.kubeconfigPath) config.loadFromFile(source.kubeconfigPath);
    else config.loadFromDefault();
  } catch (error) {
    throw invalid(`is not a kubeconfig the Kubernetes client can read: ${firstLine(error)}`);
  }
  if (!config.getCurrentCluster()?.server)
    throw invalid(
      `names no cluster with a server: its current-context ("${config.getCurrentContext() ?? ""}") must name a context whose cluster has a server URL`,
    );
  return config;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/**
 * The API clients, each request bounded by `requestTimeoutMs`. client-node 1.x sends through node-fetch and
 * takes an AbortSignal per request, which only a middleware can set: `makeApiClient` offers no timeout.
 */
export function makeApis(config: KubeConfig, requestTimeoutMs: number): KubernetesApis {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: config },
    promiseMiddleware: [timeoutMiddleware(requestTimeoutMs)],
  });
  return { batch: new BatchV1Api(configuration), core: new CoreV1Api(configuration) };
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
