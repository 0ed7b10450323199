/**
 * The Lambda functions and the queue settings that follow from them, as plain data: infra/sst/hookflow.ts
 * turns it into SST components, infra/bundle.ts bundles the same handlers, and the tests read it without SST.
 */
import { join } from "node:path";
import type { LinkedSetting } from "../core/config.js";

export type FunctionName = "webhook" | "callback" | "api" | "scheduler" | "reconciler" | "wakeUps";

export interface FunctionPlan {
  /** `path/file.export` from the repository root, as SST's `handler` takes it. */
  handler: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** The settings it reads, each linked from the SST component that carries it (core/config.ts SST_LINKS). */
  links: readonly LinkedSetting[];
  /**
   * Settings of which it only needs to know whether they are set (a commit-status token decides whether a run
   * records commit-status effects): it gets a marker, never the secret, which only the scheduler holds.
   */
  presenceOf?: readonly LinkedSetting[];
  /** Plain, non-secret environment. */
  environment?: Readonly<Record<string, string>>;
  /** The adapters core/wiring.ts loads on first use that none of its routes calls: not in its bundle. */
  notBundled?: readonly OnDemandAdapter[];
}

/**
 * The adapters core/wiring.ts imports on first use (`import()`), by source file. esbuild makes a chunk of every
 * `import()` in a bundle's modules, whether the code around it can run or not, and cuts what the function's start
 * shares with those chunks into more chunk files, which the start loads (issue 20: the webhook started with 22
 * files, 8 of them for these adapters, which it never calls). A function leaves out those its routes never call
 * (esbuild's `external`, on deploy and in infra/bundle.ts); test/integration/infra.test.ts holds that no code
 * left in its bundle could load one, so leaving one out never breaks a route: it would fail that test first.
 */
export const ON_DEMAND_ADAPTERS = {
  kubernetesRunner: "core/adapters/kubernetes/index.ts",
  clusterAccess: "core/adapters/kubernetes/access.ts",
  localRunner: "core/adapters/local-runner.ts",
  logArchive: "core/adapters/s3/log-archive.ts",
  doctor: "core/services/doctor.ts",
  signIn: "core/adapters/oidc.ts",
  notifiers: "core/adapters/notify/index.ts",
  gitHosts: "core/adapters/git-api/index.ts",
} as const;
export type OnDemandAdapter = keyof typeof ON_DEMAND_ADAPTERS;
const EVERY_ON_DEMAND_ADAPTER = Object.keys(ON_DEMAND_ADAPTERS) as OnDemandAdapter[];
const EVERY_ON_DEMAND_ADAPTER_BUT = (...kept: OnDemandAdapter[]) =>
  EVERY_ON_DEMAND_ADAPTER.filter((adapter) => !kept.includes(adapter));

const SHARED: LinkedSetting[] = ["HOOKFLOW_TABLE", "HOOKFLOW_QUEUE_URL"];
const COMMIT_STATUS_TOKENS: LinkedSetting[] = [
  "HOOKFLOW_GITHUB_TOKEN",
  "HOOKFLOW_GITLAB_API_TOKEN",
  "HOOKFLOW_GITEA_TOKEN",
];
// On Lambda the local process runner makes no sense: without a kubeconfig the functions fail loudly instead.
const KUBERNETES = { HOOKFLOW_RUNNER: "kubernetes" };

/** What an HTTP function may take: API Gateway's HTTP API stops waiting at 30 s whatever the function does. */
export const HTTP_TIMEOUT_LIMIT_SECONDS = 30;

export const FUNCTIONS = {
  // A git host waits about 10 s for an answer; a verify, one conditional write and one send take well under 1 s.
  webhook: {
    handler: "functions/webhook.handler",
    memoryMb: 1024,
    timeoutSeconds: 20,
    links: [...SHARED, "HOOKFLOW_GITHUB_SECRET", "HOOKFLOW_GITLAB_TOKEN", "HOOKFLOW_GITEA_SECRET"],
    presenceOf: COMMIT_STATUS_TOKENS,
    notBundled: EVERY_ON_DEMAND_ADAPTER_BUT("gitHosts"),
  },
  callback: {
    handler: "functions/callback.handler",
    memoryMb: 512,
    timeoutSeconds: 20,
    links: [...SHARED, "HOOKFLOW_TOKEN_SECRET", "HOOKFLOW_RELAY_TOKEN"],
    notBundled: EVERY_ON_DEMAND_ADAPTER,
  },
  // A running attempt's log is read from the cluster, so the API loads the Kubernetes client (lazily, only for
  // logs); an ended one's from the log bucket.
  api: {
    handler: "functions/api.handler",
    memoryMb: 1024,
    timeoutSeconds: 29,
    links: [
      ...SHARED,
      "HOOKFLOW_API_TOKEN",
      "HOOKFLOW_TOKEN_SECRET",
      "HOOKFLOW_KUBECONFIG",
      "HOOKFLOW_OIDC_CLIENT_SECRET",
      "HOOKFLOW_LOG_BUCKET",
    ],
    presenceOf: COMMIT_STATUS_TOKENS,
    environment: KUBERNETES,
    notBundled: ["notifiers"],
  },
  // A batch of up to 10 messages, groups in parallel; a run's message may submit Jobs, a delivery message notifies
  // robots (side by side, at most 20 s per target: NotificationDelivery's budget), well inside the timeout.
  scheduler: {
    handler: "functions/scheduler.handler",
    memoryMb: 1024,
    timeoutSeconds: 60,
    links: [
      ...SHARED,
      "HOOKFLOW_WAKE_QUEUE_URL",
      "HOOKFLOW_PUBLIC_URL",
      "HOOKFLOW_CALLBACK_BASE_URL",
      "HOOKFLOW_TOKEN_SECRET",
      "HOOKFLOW_KUBECONFIG",
      "HOOKFLOW_LOG_BUCKET",
      ...COMMIT_STATUS_TOKENS,
    ],
    environment: KUBERNETES,
    notBundled: ["clusterAccess", "doctor", "signIn", "gitHosts"],
  },
  // On the wake-up queue: turns each due wake-up into a reconcile on the work queue (one send each).
  wakeUps: {
    handler: "functions/wake-ups.handler",
    memoryMb: 512,
    timeoutSeconds: 30,
    links: [...SHARED, "HOOKFLOW_WAKE_QUEUE_URL"],
    notBundled: EVERY_ON_DEMAND_ADAPTER,
  },
  // Runs every minute: finishing well within the minute keeps two runs from overlapping.
  reconciler: {
    handler: "functions/reconciler.handler",
    memoryMb: 512,
    timeoutSeconds: 30,
    links: SHARED,
    notBundled: EVERY_ON_DEMAND_ADAPTER_BUT("gitHosts"),
  },
} as const satisfies Record<FunctionName, FunctionPlan>;

/** What esbuild leaves out of a function's bundle (its `external`): absolute paths, from the repository's `root`. */
export function notBundledFiles(name: FunctionName, root: string): string[] {
  const plan: FunctionPlan = FUNCTIONS[name];
  return (plan.notBundled ?? []).map((adapter) => join(root, ON_DEMAND_ADAPTERS[adapter]));
}

/**
 * How every function is bundled, by SST on deploy and by infra/bundle.ts: ESM, minified, split so that what a
 * function imports dynamically (the Kubernetes client, robots, the SDK's rarely used credential providers) is in
 * chunks loaded on first use, out of every cold start. `keepNames`, because minifying renames classes and
 * functions, and a name is what a log shows (Lambda logs a thrown error's name as its `errorType`).
 */
export const BUNDLING = { format: "esm", minify: true, splitting: true, keepNames: true } as const;

export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

/** The HTTP routes of API Gateway and the function each reaches (the apps answer exactly these paths). */
export const ROUTES = {
  // ANY, so that a wrong method reaches the app and gets its 405 rather than API Gateway's 404.
  "ANY /webhooks/{provider}": "webhook",
  "POST /callbacks/tasks/{taskId}": "callback",
  "POST /callbacks/relay": "callback",
  "ANY /api/{proxy+}": "api",
  "ANY /auth/{proxy+}": "api",
  // The console's pages and files: the API's app renders them, loading them on the first such request.
  "ANY /console/{proxy+}": "api",
  "GET /runs": "api",
  "GET /runs/{proxy+}": "api",
  "GET /pipelines": "api",
  "GET /pipelines/{proxy+}": "api",
  "GET /healthz": "api",
} as const satisfies Record<string, FunctionName>;

/**
 * The functions with a Lambda function URL of their own: Lambda charges nothing for a function URL beyond the
 * invocation, where API Gateway charges for every request. hookflow's own Jobs and relay report to the callback
 * function there (the scheduler hands it out as HOOKFLOW_CALLBACK_BASE_URL), and git hosts deliver webhooks to the
 * webhook function there (`webhookUrl`, pasted into the host). The API and the console stay on API Gateway, and so
 * do the callback and webhook routes (a Job submitted, or a host's webhook set up, before an upgrade holds that
 * URL). No IAM authorization (Jobs and git hosts hold no AWS credentials): every request is checked by its task or
 * relay token, or its delivery's signature, as behind API Gateway. No CORS: no browser calls them.
 */
export const FUNCTION_URLS = {
  callback: { authorization: "none", cors: false },
  webhook: { authorization: "none", cors: false },
} as const satisfies Partial<Record<FunctionName, { authorization: "none" | "iam"; cors: false }>>;

export const QUEUE = {
  /**
   * AWS's rule for a queue feeding Lambda: at least six times the function's timeout, so Lambda can retry a
   * throttled batch before its messages become visible again. It is also how long a failed message holds up its
   * run's message group (FIFO) before it is retried.
   */
  visibilityTimeoutSeconds: 6 * FUNCTIONS.scheduler.timeoutSeconds,
  /** Tries before a message moves to the dead-letter queue instead of blocking its run's group for good. */
  maxReceiveCount: 5,
  /** SQS allows up to 10 messages per batch for a FIFO queue. */
  batchSize: 10,
  /** The dead-letter queue keeps messages as long as SQS allows, to be inspected and redriven. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
} as const;

/** The standard queue of delayed wake-ups (core/adapters/sqs/wake-ups.ts); SQS delays a message 15 minutes at most. */
export const WAKE_QUEUE = {
  visibilityTimeoutSeconds: 6 * FUNCTIONS.wakeUps.timeoutSeconds,
  batchSize: 10,
  /**
   * A wake-up is a hint (the reconciler's tick still looks at every active run), so one that keeps failing is
   * dropped after an hour instead of going to a dead-letter queue. Longer waits are re-sent, each hop afresh.
   */
  retentionSeconds: 3600,
} as const;

export const RECONCILE_SCHEDULE = "rate(1 minute)";

/**
 * Plain settings taken from the environment of `sst deploy` (`HOOKFLOW_NAMESPACE=ci npx sst deploy`) and given
 * to every function; unset ones keep their defaults (core/config.ts).
 */
export const DEPLOY_SETTINGS = [
  "HOOKFLOW_NAMESPACE",
  // Given at deploy, it overrides the callback function's URL (say, to keep Jobs on a domain a cluster's egress allows).
  "HOOKFLOW_CALLBACK_BASE_URL",
  "HOOKFLOW_GITHUB_API_URL",
  "HOOKFLOW_GITLAB_URL",
  "HOOKFLOW_GITEA_URL",
  "HOOKFLOW_DEFINITION_CACHE_SECONDS",
  "HOOKFLOW_OIDC_ISSUER",
  "HOOKFLOW_OIDC_CLIENT_ID",
  "HOOKFLOW_ROLES",
  "HOOKFLOW_AUDIT_RETENTION_DAYS",
  "HOOKFLOW_LOG_MAX_BYTES",
  "HOOKFLOW_LOG_RETENTION_DAYS",
  "HOOKFLOW_LOG_LEVEL",
] as const;

export function deploySettings(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(
    DEPLOY_SETTINGS.flatMap((name) => (env[name] ? [[name, env[name] as string]] : [])),
  );
}

/**
 * EKS sign-in (core/config.ts), given only to the functions that talk to Kubernetes. With HOOKFLOW_EKS_CLUSTER
 * alone, the deploy reads the cluster's endpoint and CA from EKS itself (`lookUp`), so nothing is copied by hand;
 * the HookflowKubeconfig secret is then neither needed nor linked (it is for clusters other than EKS).
 */
export const EKS_SETTINGS = [
  "HOOKFLOW_EKS_CLUSTER",
  "HOOKFLOW_EKS_ENDPOINT",
  "HOOKFLOW_EKS_CA_DATA",
] as const;

export function eksSettings(env: Readonly<Record<string, string | undefined>>): {
  settings: Record<string, string>;
  lookUp: boolean;
} {
  const settings = Object.fromEntries(
    EKS_SETTINGS.flatMap((name) => (env[name] ? [[name, env[name] as string]] : [])),
  );
  const lookUp =
    !!settings.HOOKFLOW_EKS_CLUSTER && !settings.HOOKFLOW_EKS_ENDPOINT && !settings.HOOKFLOW_EKS_CA_DATA;
  return { settings, lookUp };
}

/** The functions that talk to Kubernetes: what the kubeconfig, EKS sign-in and the VPC are for. */
export const talksToKubernetes = (name: FunctionName) =>
  (FUNCTIONS[name].links as readonly LinkedSetting[]).includes("HOOKFLOW_KUBECONFIG");

/** Gateway endpoints are free; an interface endpoint costs by the hour in each subnet's zone. */
export const VPC_ENDPOINTS = { dynamodb: "Gateway", s3: "Gateway", sqs: "Interface" } as const;
export type VpcEndpointService = keyof typeof VPC_ENDPOINTS;

export interface VpcPlan {
  privateSubnets: string[];
  securityGroups: string[];
  /** Route tables of the subnets, for gateway endpoints. */
  routeTables: string[];
  endpoints: VpcEndpointService[];
}

/**
 * The functions that talk to Kubernetes (scheduler, API) in an existing VPC, for a cluster whose API endpoint is
 * private: `HOOKFLOW_VPC_SUBNETS` and `HOOKFLOW_VPC_SECURITY_GROUPS` (comma lists, both or neither), and
 * optionally `HOOKFLOW_VPC_ENDPOINTS` (`dynamodb`, `s3`, `sqs`) for the deploy to create those endpoints, gateway
 * ones on `HOOKFLOW_VPC_ROUTE_TABLES`. Undefined without subnets; a malformed setting throws naming it.
 */
export function vpcPlan(env: Readonly<Record<string, string | undefined>>): VpcPlan | undefined {
  const list = (name: string) =>
    (env[name] ?? "")
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
  const privateSubnets = list("HOOKFLOW_VPC_SUBNETS");
  const securityGroups = list("HOOKFLOW_VPC_SECURITY_GROUPS");
  const routeTables = list("HOOKFLOW_VPC_ROUTE_TABLES");
  const endpoints = list("HOOKFLOW_VPC_ENDPOINTS");
  const problems: string[] = [];
  const ids = (name: string, values: string[], prefix: string) => {
    for (const value of values)
      if (!new RegExp(`^${prefix}-[0-9a-f]{8,17}$`).test(value))
        problems.push(`${name}: "${value}" is not a ${prefix}-… id`);
  };
  ids("HOOKFLOW_VPC_SUBNETS", privateSubnets, "subnet");
  ids("HOOKFLOW_VPC_SECURITY_GROUPS", securityGroups, "sg");
  ids("HOOKFLOW_VPC_ROUTE_TABLES", routeTables, "rtb");
  for (const endpoint of endpoints)
    if (!(endpoint in VPC_ENDPOINTS))
      problems.push(
        `HOOKFLOW_VPC_ENDPOINTS: "${endpoint}" is not one of ${Object.keys(VPC_ENDPOINTS).join(", ")}`,
      );
  if (privateSubnets.length === 0) {
    for (const name of [
      "HOOKFLOW_VPC_SECURITY_GROUPS",
      "HOOKFLOW_VPC_ROUTE_TABLES",
      "HOOKFLOW_VPC_ENDPOINTS",
    ])
      if (list(name).length > 0) problems.push(`${name}: is used only with HOOKFLOW_VPC_SUBNETS`);
  } else if (securityGroups.length === 0)
    problems.push("HOOKFLOW_VPC_SECURITY_GROUPS: the functions in the VPC need at least one security group");
  const gateways = endpoints.filter((e) => VPC_ENDPOINTS[e as VpcEndpointService] === "Gateway");
  if (gateways.length > 0 && routeTables.length === 0)
    problems.push(
      `HOOKFLOW_VPC_ROUTE_TABLES: gateway endpoints (${gateways.join(", ")}) are added to route tables: name the subnets' route tables`,
    );
  if (problems.length > 0) throw new Error(`invalid VPC settings:\n  ${problems.join("\n  ")}`);
  if (privateSubnets.length === 0) return undefined;
  return {
    privateSubnets,
    securityGroups,
    routeTables,
    endpoints: [...new Set(endpoints)] as VpcEndpointService[],
  };
}

/** The value a function sees for a setting given by presence only. */
export const PRESENT = "present (the value is held by the scheduler)";

/** The file and export of a handler: `functions/webhook.handler` → `functions/webhook.ts`, `handler`. */
export function handlerSource(handler: string): { file: string; exportName: string } {
  const dot = handler.lastIndexOf(".");
  return { file: `${handler.slice(0, dot)}.ts`, exportName: handler.slice(dot + 1) };
}
