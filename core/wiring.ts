/**
 * The one wiring module: builds adapters from configuration and hands each function what it needs. The heavy
 * adapters (Kubernetes client, runners, robots) are imported only by the builders that need them, so the
 * webhook, callback and API functions never load them.
 */
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import {
  auditLog,
  buildStores,
  definitionStore,
  deliveryStore,
  EVERY_STORE,
  rateLimiter,
  repositoryScheduleStore,
  repositoryStore,
  runStore,
  type StoreBuilders,
  type Stores,
  sentLedger,
  storeTable,
  taskSlotStore,
  tokenStore,
} from "./adapters/dynamo/store.js";
import { webhookProviders } from "./adapters/git/index.js";
import { hostPullRequestDetails } from "./adapters/git-api/pull-requests.js";
import type { AwsCredentials } from "./adapters/kubernetes/eks-token.js";
import type { LocalRunner } from "./adapters/local-runner.js";
import { discardedMetrics, emfMetrics } from "./adapters/metrics.js";
import type { OidcOptions } from "./adapters/oidc.js";
import { SqsWorkQueue } from "./adapters/sqs/queue.js";
import { SqsWakeUps } from "./adapters/sqs/wake-ups.js";
import { jsonLogger, randomIds, systemClock } from "./adapters/system.js";
import { WarmAgent } from "./adapters/warm-agent.js";
import { type Config, callbackBaseUrl, configuredSecrets, loadConfig, runnerKind } from "./config.js";
import { ValidationError } from "./errors.js";
import type { Provider, TargetRules } from "./model/index.js";
import type {
  Clock,
  CommitStatusReporter,
  GitHostApi,
  GitHostApis,
  IdSource,
  LogArchive,
  Logger,
  Metrics,
  NotificationSender,
  RunStore,
  SignInProvider,
  TaskRunner,
} from "./ports.js";
import { AccessControl } from "./services/access.js";
import { DefinitionCatalog } from "./services/catalog.js";
import { RunCommands, RunRecorder } from "./services/commands.js";
import { RunControl, type WebUrls } from "./services/control.js";
import { DefinitionService } from "./services/definitions.js";
import type { Doctor } from "./services/doctor.js";
import { IngestService } from "./services/ingest.js";
import { DeliveryIntake } from "./services/intake.js";
import { LogArchiving } from "./services/log-archiving.js";
import { NotificationDelivery } from "./services/outbox-delivery.js";
import { PersonalTokens } from "./services/people.js";
import { RelayReports } from "./services/relay-reports.js";
import { TaskReports } from "./services/reports.js";
import { RepositoryService } from "./services/repositories.js";
import { RepositoryPipelines } from "./services/repository-pipelines.js";
import { type OutboxDelivery, RunService } from "./services/runs.js";
import { Scheduler } from "./services/scheduler.js";
import { ScheduleService } from "./services/schedules.js";
import { SignIn } from "./services/signin.js";
import { RunStarter } from "./services/start-runs.js";
import { TaskSlotService } from "./services/task-slots.js";
import { TaskTokens } from "./services/tokens.js";
import { ViewGrants } from "./services/view-grants.js";
import { HOOKFLOW_VERSION } from "./version.js";

/**
 * What every function shares: configuration, state, the queue, time, ids and logs. A function's stores are those
 * its routes use (`K`; every store by default).
 */
export interface Base<K extends keyof Stores = keyof Stores> {
  config: Config;
  stores: Pick<Stores, K>;
  queue: SqsWorkQueue;
  /** Delayed wake-ups, when HOOKFLOW_WAKE_QUEUE_URL is set. */
  wakeUps?: SqsWakeUps;
  clock: Clock;
  ids: IdSource;
  log: Logger;
  /**
   * The function's own AWS credentials (the SDK's default chain as the DynamoDB client resolves and renews them;
   * on Lambda, its role's): what an EKS token is signed with (HOOKFLOW_EKS_CLUSTER).
   */
  awsCredentials: () => Promise<AwsCredentials>;
  /** Published at the end of each invocation (`lazyHandler`); on Lambda as EMF lines, elsewhere dropped. */
  metrics: Metrics;
  /**
   * Opens, before they are asked for, the connections a route wants after its first request: a second to DynamoDB
   * (for two requests at once) once the first is opened, and one to SQS. Only over https, as on AWS.
   */
  warmConnections: () => void;
}

/** Replacements a test or the local stack may pass in. */
export interface Overrides {
  clock?: Clock;
  ids?: IdSource;
  log?: Logger;
  metrics?: Metrics;
  runner?: TaskRunner;
  sender?: NotificationSender;
  commitStatus?: CommitStatusReporter;
  /** How long one notification target may take, all tries together (NotificationDelivery's default else). */
  notifyBudgetSeconds?: number;
  /** The OpenID provider sign-in talks to (else built from HOOKFLOW_OIDC_*). */
  signInProvider?: SignInProvider;
  /** SDK clients of one's own, e.g. with middleware that counts requests. */
  dynamoClient?: DynamoDBClient;
  sqsClient?: SQSClient;
  /** The fetch the git hosts' APIs are called with. */
  fetch?: typeof fetch;
  s3Client?: S3Client;
  /** The credentials EKS tokens are signed with (else the DynamoDB client's). */
  awsCredentials?: () => Promise<AwsCredentials>;
}

const EMULATOR_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

/** Every store: for tests, benches and the local stack, which run every function's code in one process. */
export function buildBase(config: Config, overrides: Overrides = {}): Base {
  return baseWith(config, EVERY_STORE, overrides);
}

/**
 * The stores each function's routes use, so that its bundle holds no other store (issue 20: the task slots' module
 * alone is 10 KB, and the runs' read brings the engine's transition, which a webhook delivery never runs).
 */
export const WEBHOOK_STORES = {
  deliveries: deliveryStore,
  definitions: definitionStore,
  repositories: repositoryStore,
  repositorySchedules: repositoryScheduleStore,
} satisfies Partial<StoreBuilders<keyof Stores>>;
export const CALLBACK_STORES = { runs: runStore } satisfies Partial<StoreBuilders<keyof Stores>>;
export const SCHEDULER_STORES = {
  runs: runStore,
  taskSlots: taskSlotStore,
  ledger: sentLedger,
  limiter: rateLimiter,
} satisfies Partial<StoreBuilders<keyof Stores>>;
export const API_STORES = {
  runs: runStore,
  deliveries: deliveryStore,
  definitions: definitionStore,
  repositories: repositoryStore,
  tokens: tokenStore,
  audit: auditLog,
} satisfies Partial<StoreBuilders<keyof Stores>>;
export const WAKE_UP_STORES = { runs: runStore } satisfies Partial<StoreBuilders<keyof Stores>>;
export const RECONCILER_STORES = {
  runs: runStore,
  deliveries: deliveryStore,
  definitions: definitionStore,
  repositories: repositoryStore,
  repositorySchedules: repositoryScheduleStore,
  taskSlots: taskSlotStore,
  ledger: sentLedger,
} satisfies Partial<StoreBuilders<keyof Stores>>;

/** The stores a set of builders makes. */
type StoresOf<B> = keyof B & keyof Stores;

export function baseWith<K extends keyof Stores>(
  config: Config,
  stores: StoreBuilders<K>,
  overrides: Overrides = {},
): Base<K> {
  const region = config.AWS_REGION;
  const local = (endpoint: string | undefined) =>
    endpoint ? { endpoint, credentials: EMULATOR_CREDENTIALS } : {};
  // The SDK's own agent's settings (keep-alive, at most 50 sockets), able to open connections early.
  const agents = { dynamo: new WarmAgent({ maxSockets: 50 }), sqs: new WarmAgent({ maxSockets: 50 }) };
  const dynamo =
    overrides.dynamoClient ??
    new DynamoDBClient({
      region,
      ...local(config.HOOKFLOW_DYNAMODB_ENDPOINT),
      requestHandler: { httpsAgent: agents.dynamo },
    });
  const sqs =
    overrides.sqsClient ??
    new SQSClient({
      region,
      ...local(config.HOOKFLOW_SQS_ENDPOINT),
      requestHandler: { httpsAgent: agents.sqs },
    });
  const queueUrl = config.HOOKFLOW_QUEUE_URL;
  if (!queueUrl) throw new Error("HOOKFLOW_QUEUE_URL is not set: the work queue's URL");
  const clock = overrides.clock ?? systemClock;
  return {
    config,
    stores: buildStores(
      storeTable({
        client: dynamo,
        table: config.HOOKFLOW_TABLE,
        auditRetentionSeconds: config.HOOKFLOW_AUDIT_RETENTION_DAYS * 86_400,
      }),
      stores,
    ),
    queue: new SqsWorkQueue(sqs, queueUrl),
    ...(config.HOOKFLOW_WAKE_QUEUE_URL && {
      wakeUps: new SqsWakeUps(sqs, config.HOOKFLOW_WAKE_QUEUE_URL, clock),
    }),
    clock,
    ids: overrides.ids ?? randomIds,
    log:
      overrides.log ??
      jsonLogger({}, undefined, configuredSecrets(config), config.HOOKFLOW_LOG_LEVEL === "debug"),
    awsCredentials: overrides.awsCredentials ?? (() => dynamo.config.credentials()),
    // CloudWatch turns EMF lines into metrics only in a function's log; elsewhere they would only be noise.
    metrics: overrides.metrics ?? (config.AWS_LAMBDA_RUNTIME_API ? emfMetrics("hookflow") : discardedMetrics),
    warmConnections: () => {
      agents.dynamo.spareOnce();
      // A client with an endpoint of its own sends there; else to the queue URL's host (the SDK's default).
      agents.sqs.warm(config.HOOKFLOW_SQS_ENDPOINT ?? queueUrl);
    },
  };
}

/**
 * Whether hookflow may call a provider's API (commit statuses, files, pull requests): its token is configured
 * (and, for Gitea, its URL). createGitHostApis builds an API for exactly these.
 */
const HOST_API_CONFIGURED: Readonly<Record<Provider, (config: Config) => boolean>> = {
  github: (config) => !!config.HOOKFLOW_GITHUB_TOKEN,
  gitlab: (config) => !!config.HOOKFLOW_GITLAB_API_TOKEN,
  gitea: (config) => !!config.HOOKFLOW_GITEA_TOKEN && !!config.HOOKFLOW_GITEA_URL,
};

/** Whether commit statuses are reported for a provider: a token for it is configured. */
export function commitStatusEnabled(config: Config): Pick<CommitStatusReporter, "enabledFor"> {
  return { enabledFor: (provider: Provider) => HOST_API_CONFIGURED[provider](config) };
}

/**
 * The git hosts' APIs hookflow may call: those whose token is configured, each loaded on its first call (issue
 * 20: a delivery of a repository without definitions in its files, and most API requests, call none). Loaded
 * once; again after a failed load.
 */
export function gitHostApis(base: Pick<Base, "config" | "clock">, overrides: Overrides = {}): GitHostApis {
  const { config } = base;
  const loaded = onFirstUse(async () => {
    const { createGitHostApis } = await import("./adapters/git-api/index.js");
    return createGitHostApis({
      githubApiUrl: config.HOOKFLOW_GITHUB_API_URL,
      githubToken: config.HOOKFLOW_GITHUB_TOKEN,
      gitlabUrl: config.HOOKFLOW_GITLAB_URL,
      gitlabToken: config.HOOKFLOW_GITLAB_API_TOKEN,
      giteaUrl: config.HOOKFLOW_GITEA_URL,
      giteaToken: config.HOOKFLOW_GITEA_TOKEN,
      clock: base.clock,
      ...(overrides.fetch && { fetch: overrides.fetch }),
    });
  });
  const api = (provider: Provider): GitHostApi => {
    const host = async () => {
      const built = (await loaded())[provider];
      if (!built) throw new Error(`the ${provider} API was configured, but not built`);
      return built;
    };
    return {
      provider,
      branchHead: async (repository, branch) => (await host()).branchHead(repository, branch),
      readFile: async (repository, commit, path) => (await host()).readFile(repository, commit, path),
      listDirectory: async (repository, commit, path) =>
        (await host()).listDirectory(repository, commit, path),
      pullRequestFiles: async (repository, number, limit) =>
        (await host()).pullRequestFiles(repository, number, limit),
      commitMessage: async (repository, commit) => (await host()).commitMessage(repository, commit),
    };
  };
  const configured = (Object.keys(HOST_API_CONFIGURED) as Provider[]).filter((provider) =>
    HOST_API_CONFIGURED[provider](config),
  );
  return Object.fromEntries(configured.map((provider) => [provider, api(provider)]));
}

/** The hosts' web addresses, for clone URLs; GitHub Enterprise's is its API URL without /api/v3. */
export function webUrls(config: Config): WebUrls {
  const api = config.HOOKFLOW_GITHUB_API_URL.replace(/\/+$/, "");
  return {
    github: api === "https://api.github.com" ? "https://github.com" : api.replace(/\/api\/v3$/, ""),
    gitlab: config.HOOKFLOW_GITLAB_URL,
    ...(config.HOOKFLOW_GITEA_URL && { gitea: config.HOOKFLOW_GITEA_URL }),
  };
}

/** `load`'s promise, made on the first call and kept; forgotten when it fails, so the next call loads again. */
function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}

/**
 * Commit statuses on the hosts whose token is configured (a light adapter: fetch only), loaded on the first
 * report: a function whose route reports none does not compile it (issue 20). Loaded once; again after a failure.
 */
export function commitStatusReporter(config: Config, clock: Clock): CommitStatusReporter {
  const loaded = onFirstUse(async () => {
    const { createCommitStatusReporter } = await import("./adapters/commit-status/index.js");
    return createCommitStatusReporter(commitStatusSettings(config, clock));
  });
  return {
    ...commitStatusEnabled(config),
    report: async (status) => (await loaded()).report(status),
  };
}

function commitStatusSettings(config: Config, clock: Clock) {
  return {
    githubToken: config.HOOKFLOW_GITHUB_TOKEN,
    gitlabToken: config.HOOKFLOW_GITLAB_API_TOKEN,
    githubApiUrl: config.HOOKFLOW_GITHUB_API_URL,
    gitlabApiUrl: config.HOOKFLOW_GITLAB_URL,
    giteaToken: config.HOOKFLOW_GITEA_TOKEN,
    giteaUrl: config.HOOKFLOW_GITEA_URL,
    clock,
  };
}

/** Where notifications may be sent: public addresses, and loopback where the local stack allows it. */
export function notifyTargets(config: Config): TargetRules {
  return { allowLoopback: config.HOOKFLOW_ALLOW_LOOPBACK_TARGETS && !config.AWS_LAMBDA_RUNTIME_API };
}

/** Task tokens; with `runs`, also verifies the previous release's tokens for the runs it created. */
export function taskTokens(config: Config, runs?: RunStore): TaskTokens {
  if (!config.HOOKFLOW_TOKEN_SECRET)
    throw new Error(
      "HOOKFLOW_TOKEN_SECRET is not set: the key task callback tokens are derived from (32+ random characters)",
    );
  return new TaskTokens(config.HOOKFLOW_TOKEN_SECRET, runs);
}

/**
 * The log archive (S3; s3rver locally). Loaded on first use: only the scheduler (writing) and the API's logs
 * route (reading) need it.
 */
export async function logArchive(config: Config, overrides: Overrides = {}): Promise<LogArchive> {
  const bucket = logBucket(config);
  const { createS3Client, S3LogArchive, S3RVER_CREDENTIALS } = await import("./adapters/s3/log-archive.js");
  const client =
    overrides.s3Client ??
    createS3Client({
      region: config.AWS_REGION,
      ...(config.HOOKFLOW_S3_ENDPOINT && {
        endpoint: config.HOOKFLOW_S3_ENDPOINT,
        credentials: S3RVER_CREDENTIALS,
      }),
    });
  return new S3LogArchive(client, bucket);
}

function logBucket(config: Config): string {
  if (!config.HOOKFLOW_LOG_BUCKET)
    throw new Error(
      "HOOKFLOW_LOG_BUCKET is not set: the S3 bucket ended attempts' logs are kept in (HOOKFLOW_S3_ENDPOINT for an emulator)",
    );
  return config.HOOKFLOW_LOG_BUCKET;
}

/**
 * The log archive for the scheduler: its setting checked at start, the S3 client loaded when an attempt's log is
 * first kept or read (a run's first message needs neither). Loaded once; again after a failed load.
 */
function logArchiveOnFirstUse(config: Config, overrides: Overrides): LogArchive {
  logBucket(config);
  const loaded = onFirstUse(() => logArchive(config, overrides));
  return {
    find: async (key) => (await loaded()).find(key),
    keep: async (key, log) => (await loaded()).keep(key, log),
    read: async (key, container, want) => (await loaded()).read(key, container, want),
    reachable: async () => (await loaded()).reachable(),
  };
}

export async function buildRunner(
  base: Pick<Base, "config" | "clock" | "awsCredentials">,
): Promise<TaskRunner> {
  const { config, clock } = base;
  if (runnerKind(config) === "local") {
    const { createLocalRunner } = await import("./adapters/local-runner.js");
    return createLocalRunner({ dataDir: join(config.HOOKFLOW_DATA_DIR, "runner"), clock });
  }
  const { createKubernetesRunner } = await import("./adapters/kubernetes/index.js");
  return await createKubernetesRunner({
    namespace: config.HOOKFLOW_NAMESPACE,
    archivedLogMaxBytes: config.HOOKFLOW_LOG_MAX_BYTES,
    ...clusterConnection(base),
  });
}

/**
 * The runner, its build started now and awaited by its first call, so that loading the cluster's client (its
 * code, the kubeconfig) can be done while the first message's first request is on the network, not before it
 * (node 20 does most of it there; node 22, which loads a module sooner, about half as much: docs/decisions.md §6, tenth
 * session). `finishing` makes a failed build the start's failure (`lazyHandler`).
 */
function runnerBuiltAside(
  base: Pick<Base, "config" | "clock" | "awsCredentials">,
  finishing: (work: Promise<unknown>) => void,
): TaskRunner {
  const built = buildRunner(base);
  finishing(built);
  return {
    submit: async (launch) => (await built).submit(launch),
    observe: async (ref) => (await built).observe(ref),
    stop: async (ref) => (await built).stop(ref),
    cancel: async (ref) => (await built).cancel(ref),
    logs: async (ref, options) => (await built).logs(ref, options),
    collectLogs: async (ref) => (await built).collectLogs(ref),
  };
}

/**
 * Where the cluster is and how hookflow signs in there, for everything that talks to it (the runner, the
 * doctor): the EKS endpoint and an IAM token, or a kubeconfig (with HOOKFLOW_EKS_CLUSTER, one without a user).
 */
function clusterConnection(base: Pick<Base, "config" | "awsCredentials">) {
  const { config } = base;
  const cluster = config.HOOKFLOW_EKS_CLUSTER;
  return {
    ...(config.HOOKFLOW_EKS_ENDPOINT && config.HOOKFLOW_EKS_CA_DATA
      ? { endpoint: { server: config.HOOKFLOW_EKS_ENDPOINT, caData: config.HOOKFLOW_EKS_CA_DATA } }
      : config.HOOKFLOW_KUBECONFIG
        ? { kubeconfig: config.HOOKFLOW_KUBECONFIG }
        : { kubeconfigPath: config.KUBECONFIG }),
    ...(cluster && { eks: { cluster, region: config.AWS_REGION, credentials: base.awsCredentials } }),
  };
}

/**
 * The local runner's reports of its tasks' ends, through the relay's report path (RelayReports: the same Job
 * name check, the relay as the actor): the local stack's counterpart of `hookflow relay`. Other runners have
 * no such reports; a report that fails leaves the end to the follow-up observations.
 */
export function reportLocalEnds(base: Base<"runs">, runner: TaskRunner): void {
  if (!("reportEnds" in runner)) return;
  const reports = new RelayReports({ commands: runCommands(base), runs: base.stores.runs });
  (runner as LocalRunner).reportEnds(async (ended) => {
    try {
      await reports.report(ended);
    } catch (error) {
      base.log.warn("a local task's end was not reported; its follow-up observation will see it", {
        runId: ended.runId,
        task: ended.task,
        error: String(error),
      });
    }
  });
}

/** The one way runs come to be (webhook deliveries and manual runs). */
export function runStarter(base: Base<"deliveries">): RunStarter {
  return new RunStarter({
    store: base.stores.deliveries,
    queue: base.queue,
    clock: base.clock,
    commitStatus: commitStatusEnabled(base.config),
    log: base.log,
  });
}

export function webhookDeps(
  base: Base<StoresOf<typeof WEBHOOK_STORES>>,
  catalog = definitionCatalog(base),
  overrides: Overrides = {},
) {
  const { config } = base;
  const hosts = gitHostApis(base, overrides);
  return {
    intake: new DeliveryIntake({
      providers: webhookProviders,
      secrets: {
        github: config.HOOKFLOW_GITHUB_SECRET,
        gitlab: config.HOOKFLOW_GITLAB_TOKEN,
        gitea: config.HOOKFLOW_GITEA_SECRET,
      },
      ingest: new IngestService({
        catalog,
        starter: runStarter(base),
        clock: base.clock,
        repositoryPipelines: new RepositoryPipelines({ hosts }),
        repositorySchedules: base.stores.repositorySchedules,
        pullRequestDetails: hostPullRequestDetails(hosts, base.log),
        commitStatus: overrides.commitStatus ?? commitStatusReporter(config, base.clock),
        publicUrl: config.HOOKFLOW_PUBLIC_URL,
        log: base.log,
      }),
      log: base.log,
    }),
    log: base.log,
  };
}

export function definitionCatalog(base: Base<"definitions" | "repositories">): DefinitionCatalog {
  return new DefinitionCatalog(
    base.stores.definitions,
    base.config.HOOKFLOW_DEFINITION_CACHE_SECONDS * 1000,
    base.clock,
    base.stores.repositories,
  );
}

export function recorder(base: Base<"runs">): RunRecorder {
  return new RunRecorder({ runs: base.stores.runs, clock: base.clock, metrics: base.metrics });
}

/** The one seam every command on a run goes through, whoever sends it. */
export function runCommands(base: Base<"runs">): RunCommands {
  return new RunCommands({ recorder: recorder(base), queue: base.queue, log: base.log });
}

export function callbackDeps(base: Base<StoresOf<typeof CALLBACK_STORES>>) {
  return {
    reports: new TaskReports({ commands: runCommands(base) }),
    tokens: taskTokens(base.config, base.stores.runs),
    log: base.log,
    relay: new RelayReports({ commands: runCommands(base), runs: base.stores.runs }),
    relayToken: base.config.HOOKFLOW_RELAY_TOKEN,
  };
}

/**
 * Notifications and commit statuses, for the scheduler: built on the first delivery, which is a message of its
 * own, so that a run's first message does not load the notifiers' module (issue 20). Built once; again after a
 * failed load.
 */
function outboxOnFirstUse(base: Base<"ledger" | "limiter">, overrides: Overrides): OutboxDelivery {
  const { config } = base;
  const built = onFirstUse(async () => {
    const { RATE_LIMITS, createNotificationSender } = await import("./adapters/notify/index.js");
    return new NotificationDelivery({
      sender:
        overrides.sender ?? createNotificationSender({ clock: base.clock, targets: notifyTargets(config) }),
      commitStatus: overrides.commitStatus ?? commitStatusReporter(config, base.clock),
      ledger: base.stores.ledger,
      limiter: base.stores.limiter,
      rateLimits: RATE_LIMITS,
      clock: base.clock,
      log: base.log,
      metrics: base.metrics,
      publicUrl: config.HOOKFLOW_PUBLIC_URL,
      ...(config.HOOKFLOW_VIEW_GRANT_DAYS > 0 && { grants: viewGrants(base) }),
      ...(overrides.notifyBudgetSeconds !== undefined && { budgetSeconds: overrides.notifyBudgetSeconds }),
    });
  });
  return { deliver: async (run, effect, log) => (await built()).deliver(run, effect, log) };
}

export async function schedulerDeps(
  base: Base<StoresOf<typeof SCHEDULER_STORES>>,
  overrides: Overrides = {},
  /** `lazyHandler`'s: given it, the runner is built while the first message is handled. */
  finishing?: (work: Promise<unknown>) => void,
) {
  const { config } = base;
  // A new run's first message sends its first save and its slot's take at once, and its wake-up last.
  if (finishing) base.warmConnections();
  const runner =
    overrides.runner ?? (finishing ? runnerBuiltAside(base, finishing) : await buildRunner(base));
  const outbox = outboxOnFirstUse(base, overrides);
  const tokens = taskTokens(config);
  const archiving = new LogArchiving({
    archive: logArchiveOnFirstUse(config, overrides),
    runner,
    tokens,
    clock: base.clock,
    maxBytes: config.HOOKFLOW_LOG_MAX_BYTES,
  });
  const service = new RunService({
    commands: runCommands(base),
    runs: base.stores.runs,
    queue: base.queue,
    runner,
    tokens,
    outbox,
    archiving,
    slots: taskSlots(base),
    callbackBaseUrl: callbackBaseUrl(config),
    log: base.log,
  });
  return {
    scheduler: new Scheduler({
      service,
      runs: base.stores.runs,
      runner,
      log: base.log,
      ...(base.wakeUps && { followUps: { wakeUps: base.wakeUps, clock: base.clock } }),
    }),
    service,
    runner,
    log: base.log,
    metrics: base.metrics,
    clock: base.clock,
  };
}

export function apiDeps(
  base: Base<StoresOf<typeof API_STORES>>,
  overrides: Overrides = {},
  catalog?: DefinitionCatalog,
) {
  const { config } = base;
  return {
    definitions: new DefinitionService({
      store: base.stores.definitions,
      clock: base.clock,
      catalog,
      targets: notifyTargets(base.config),
    }),
    runs: new RunControl({
      runs: base.stores.runs,
      definitions: base.stores.definitions,
      commands: runCommands(base),
      starter: runStarter(base),
      ids: base.ids,
      // A bad kubeconfig found here is the deployment's fault, not the caller's: a 500, logged with the reason.
      runner: onFirstUse(async () =>
        overrides.runner
          ? overrides.runner
          : buildRunner(base).catch((error: unknown) => {
              throw error instanceof ValidationError ? new Error(error.explain()) : error;
            }),
      ),
      archive: onFirstUse(() => logArchive(config, overrides)),
      ...(config.HOOKFLOW_TOKEN_SECRET && { tokens: taskTokens(config) }),
      hosts: gitHostApis(base, overrides),
      webUrls: webUrls(config),
    }),
    repositories: new RepositoryService({
      store: base.stores.repositories,
      clock: base.clock,
      catalog,
      files: {
        pipelines: new RepositoryPipelines({ hosts: gitHostApis(base, overrides) }),
        hosts: gitHostApis(base, overrides),
        jobs: async () =>
          new Map((await base.stores.definitions.listJobs()).map((j) => [j.value.name, j.value])),
      },
    }),
    apiToken: config.HOOKFLOW_API_TOKEN,
    grants: viewGrants(base),
    // Admins only, rarely: loaded on first use, out of the API's cold start.
    doctor: () => doctor(base, overrides),
    ...peopleDeps(base, overrides),
    log: base.log,
  };
}

/** `GET /api/doctor`: the deployment checked with its own settings and credentials (the scheduler's kubeconfig). */
export async function doctor(base: Base<never>, overrides: Overrides = {}): Promise<Doctor> {
  const { config } = base;
  const { Doctor } = await import("./services/doctor.js");
  return new Doctor({
    version: HOOKFLOW_VERSION,
    webhookSecrets: {
      github: !!config.HOOKFLOW_GITHUB_SECRET,
      gitlab: !!config.HOOKFLOW_GITLAB_TOKEN,
      gitea: !!config.HOOKFLOW_GITEA_SECRET,
    },
    tokenSecret: !!config.HOOKFLOW_TOKEN_SECRET,
    signIn: {
      ...(config.HOOKFLOW_OIDC_ISSUER && { issuer: config.HOOKFLOW_OIDC_ISSUER }),
      clientId: !!config.HOOKFLOW_OIDC_CLIENT_ID,
    },
    queue: base.queue,
    archive: () => logArchive(config, overrides),
    cluster: async () => {
      if (runnerKind(config) === "local") return undefined;
      const { createClusterAccess } = await import("./adapters/kubernetes/access.js");
      return await createClusterAccess({ namespace: config.HOOKFLOW_NAMESPACE, ...clusterConnection(base) });
    },
    secrets: configuredSecrets(config),
  });
}

/** Who may do what: roles, tokens, sessions, the audit; sign-in when HOOKFLOW_OIDC_ISSUER is set. */
export function peopleDeps(base: Base<"tokens" | "audit">, overrides: Overrides = {}) {
  const { config } = base;
  const signInConfigured = !!config.HOOKFLOW_OIDC_ISSUER;
  const tokens = new PersonalTokens({
    store: base.stores.tokens,
    clock: base.clock,
    roles: config.HOOKFLOW_ROLES,
    signInConfigured,
  });
  const provider =
    overrides.signInProvider ??
    (config.HOOKFLOW_OIDC_ISSUER && config.HOOKFLOW_OIDC_CLIENT_ID
      ? oidcProvider({
          issuer: config.HOOKFLOW_OIDC_ISSUER,
          clientId: config.HOOKFLOW_OIDC_CLIENT_ID,
          ...(config.HOOKFLOW_OIDC_CLIENT_SECRET && { clientSecret: config.HOOKFLOW_OIDC_CLIENT_SECRET }),
        })
      : undefined);
  return {
    access: new AccessControl({ audit: base.stores.audit, clock: base.clock }),
    tokens,
    roles: config.HOOKFLOW_ROLES,
    audit: base.stores.audit,
    // Sessions are signed with a key derived from HOOKFLOW_TOKEN_SECRET (loadConfig requires it with sign-in).
    ...(provider &&
      config.HOOKFLOW_TOKEN_SECRET && {
        signIn: new SignIn({
          provider,
          secret: config.HOOKFLOW_TOKEN_SECRET,
          clock: base.clock,
          publicUrl: config.HOOKFLOW_PUBLIC_URL,
          sessionSeconds: config.HOOKFLOW_SESSION_HOURS * 3600,
          tokens,
        }),
      }),
  };
}

/** Sign-in through openid-client, loaded on the first sign-in: no API call needs it. */
function oidcProvider(options: OidcOptions): SignInProvider {
  let provider: Promise<SignInProvider> | undefined;
  const loaded = () =>
    (provider ??= import("./adapters/oidc.js").then(({ createOidcProvider }) => createOidcProvider(options)));
  return {
    authorizationUrl: async (request) => (await loaded()).authorizationUrl(request),
    exchange: async (callbackUrl, expected) => (await loaded()).exchange(callbackUrl, expected),
  };
}

/**
 * The grants in run links (notifications, commit statuses) and the console's check of them: a key derived from
 * HOOKFLOW_TOKEN_SECRET, which the scheduler (making links) and the API (checking them) both hold.
 */
export function viewGrants(base: Pick<Base, "config" | "clock">): ViewGrants | undefined {
  const { config } = base;
  if (!config.HOOKFLOW_TOKEN_SECRET) return undefined;
  return new ViewGrants(config.HOOKFLOW_TOKEN_SECRET, base.clock, config.HOOKFLOW_VIEW_GRANT_DAYS);
}

/** The wake-up consumer: it only forwards due wake-ups to the work queue, so it loads no runner. */
export function wakeUpDeps(base: Base<StoresOf<typeof WAKE_UP_STORES>>) {
  if (!base.wakeUps)
    throw new Error("HOOKFLOW_WAKE_QUEUE_URL is not set: the standard SQS queue of delayed wake-ups");
  return {
    queue: base.queue,
    wakeUps: base.wakeUps,
    runs: base.stores.runs,
    clock: base.clock,
    log: base.log,
    metrics: base.metrics,
  };
}

/** A pipeline's running-task slots, counted across its runs (taken by the scheduler, repaired by the reconciler). */
export function taskSlots(base: Base<"taskSlots" | "runs">): TaskSlotService {
  return new TaskSlotService({
    slots: base.stores.taskSlots,
    runs: base.stores.runs,
    queue: base.queue,
    clock: base.clock,
    log: base.log,
  });
}

export function reconcilerDeps(base: Base<StoresOf<typeof RECONCILER_STORES>>, overrides: Overrides = {}) {
  return {
    runs: base.stores.runs,
    queue: base.queue,
    clock: base.clock,
    log: base.log,
    slots: taskSlots(base),
    schedules: new ScheduleService({
      definitions: base.stores.definitions,
      ledger: base.stores.ledger,
      starter: runStarter(base),
      hosts: gitHostApis(base, overrides),
      webUrls: webUrls(base.config),
      clock: base.clock,
      log: base.log,
      repositorySchedules: base.stores.repositorySchedules,
      repositories: base.stores.repositories,
      repositoryPipelines: new RepositoryPipelines({ hosts: gitHostApis(base, overrides) }),
    }),
  };
}

/**
 * A Lambda handler built on first use, from the environment: importing a function module (as tests do) needs
 * no configuration, and a warm container reuses what it built.
 *
 * `build` may leave part of the start to finish while the first invocation runs, handing it to `finishing`: the
 * scheduler starts loading its cluster client before its first message's Query, to overlap it (issue 20). That part
 * fails as the start does: the invocation, once its handler has settled, fails with its error, and the next
 * invocation starts again.
 */
export function lazyHandler<K extends keyof Stores, A extends unknown[], R>(
  stores: StoreBuilders<K>,
  build: (
    base: Base<K>,
    finishing: (work: Promise<unknown>) => void,
  ) => ((...args: A) => R) | Promise<(...args: A) => R>,
): (...args: A) => Promise<Awaited<R>> {
  let built: Promise<{ handler: (...args: A) => R; base: Base<K>; finished: Promise<unknown> }> | undefined;
  const failedStart = (error: unknown) => {
    built = undefined;
    return startFailure(error);
  };
  return async (...args: A): Promise<Awaited<R>> => {
    built ??= (async () => {
      const base = baseWith(loadConfig(), stores);
      const finishing: Promise<unknown>[] = [];
      const handler = await build(base, (work) => {
        // Its failure is reported by the invocation that awaits it; until then it must not count as unhandled.
        work.catch(() => {});
        finishing.push(work);
      });
      return { handler, base, finished: Promise.all(finishing) };
    })().catch((error: unknown) => {
      throw failedStart(error);
    });
    const { handler, base, finished } = await built;
    try {
      const [answer, start] = await Promise.allSettled([handler(...args), finished]);
      if (start.status === "rejected") throw failedStart(start.reason);
      if (answer.status === "rejected") throw answer.reason;
      return answer.value;
    } finally {
      // What this invocation measured, written before Lambda may freeze the process.
      await base.metrics.flush();
    }
  };
}

/**
 * What Lambda logs for an error thrown at start is its name and message (`errorType`, `errorMessage`): for a
 * configuration problem, the message is the whole explanation, every problem with its setting.
 */
function startFailure(error: unknown): unknown {
  return error instanceof ValidationError && error.issues.length > 0
    ? new ValidationError(error.explain())
    : error;
}
