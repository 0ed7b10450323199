import {
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  type Middleware,
  type RequestContext,
  type SecurityAuthentication,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { ValidationError } from "../../errors.js";

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
  if (!config.getCurrentCluster()?.server)
    throw invalid(
      `names no cluster with a server: its current-context ("${config.getCurrentContext() ?? ""}") must name a context whose cluster has a server URL`,
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
 * The API clients, each request bounded by `requestTimeoutMs`. client-node 1.x sends through node-fetch and
 * takes an AbortSignal per request, which only a middleware can set: `makeApiClient` offers no timeout.
 */
export function makeApis(
  config: KubeConfig,
  requestTimeoutMs: number,
  bearerToken?: () => Promise<string>,
): KubernetesApis {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: authenticationFor(config, bearerToken) },
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

/** How requests sign in: the kubeconfig's own user, or a bearer token of hookflow's own (EKS). */
export function authenticationFor(
  config: KubeConfig,
  bearerToken?: () => Promise<string>,
): SecurityAuthentication {
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
