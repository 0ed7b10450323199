import {
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  type Middleware,
  ServerConfiguration,
} from "@kubernetes/client-node";

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

export function loadKubeconfig(source: KubeconfigSource): KubeConfig {
  const config = new KubeConfig();
  if (source.kubeconfig) config.loadFromString(source.kubeconfig);
  else if (source.kubeconfigPath) config.loadFromFile(source.kubeconfigPath);
  else config.loadFromDefault();
  return config;
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
