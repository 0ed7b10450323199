import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { ensureTable } from "../../core/adapters/dynamo/table.js";
import { ensureQueues } from "../../core/adapters/sqs/queue.js";
import { ensureWakeQueue } from "../../core/adapters/sqs/wake-ups.js";
import { type Config, loadConfig, runnerKind } from "../../core/config.js";
import type { Logger } from "../../core/ports.js";
import { reconcileAll } from "../../core/services/scheduler.js";
import {
  apiDeps,
  buildBase,
  buildRunner,
  callbackDeps,
  definitionCatalog,
  reconcilerDeps,
  reportLocalEnds,
  schedulerDeps,
  wakeUpDeps,
  webhookDeps,
} from "../../core/wiring.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createSchedulerHandler } from "../../functions/scheduler.js";
import { createWakeUpHandler } from "../../functions/wake-ups.js";
import { createWebhookApp } from "../../functions/webhook.js";
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type RunningEmulator,
  startDynamoLocal,
  startS3Emulator,
  startSqsEmulator,
} from "./emulators.js";
import { DEMO_ROLES, type DemoUser, demoUsers, startLocalProvider } from "./oidc-provider.js";
import { privateDir } from "./private-files.js";
import { startQueuePoller } from "./queue-poller.js";
import { loadOrCreateSecrets } from "./secrets.js";

export interface StackOptions {
  /** The environment to read configuration from (process.env for `npm start`). */
  env: Record<string, string | undefined>;
  log: Logger;
  /** How often the reconciler looks at unfinished runs (Lambda: every minute; locally much more often). */
  reconcileSeconds?: number;
}

export interface RunningStack {
  config: Config;
  url: string;
  apiToken: string;
  /** Which webhook secrets are in use and where they come from. */
  secretSources: Record<"github" | "gitlab" | "gitea", "environment" | "generated">;
  runner: "kubernetes" | "local";
  /** The local OpenID provider's people and their passwords (absent when HOOKFLOW_OIDC_ISSUER is given). */
  signIn?: { issuer: string; users: Record<string, DemoUser> };
  stop(): Promise<void>;
}

/** How often the local stack's reconciler looks at unfinished runs (on AWS: RECONCILE_SCHEDULE, every minute). */
export const LOCAL_RECONCILE_SECONDS = 3;

const QUEUE_NAMES = { work: "hookflow-work.fifo", dead: "hookflow-dead.fifo" };
const LOG_BUCKET = "hookflow-logs";
const WAKE_QUEUE_NAME = "hookflow-wake";
/** Locally a scheduler batch runs in this process with no Lambda timeout; this only bounds a stuck one. */
const VISIBILITY_TIMEOUT_SECONDS = 60;

/**
 * The whole product on one machine: DynamoDB Local and s3rver (the log archive), both persisted in the data
 * directory, the SQS emulator, one HTTP server for webhooks, callbacks and the API, the scheduler as long-poll
 * loops (work queue, wake-up queue) calling the Lambda handlers, the reconciler on a timer, and the local process
 * runner (Kubernetes when a kubeconfig is given).
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const { env, log } = options;
  // Checked before anything starts, so that a bad setting leaves no emulator behind.
  const requested = loadConfig(env);
  const dataDir = privateDir(resolve(env.HOOKFLOW_DATA_DIR ?? ".hookflow"));
  const secrets = loadOrCreateSecrets(dataDir);
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of [...stoppers].reverse())
      await stopOne().catch((error) => log.error("stop failed", { error: String(error) }));
  };

  try {
    const started = (emulator: RunningEmulator) => {
      stoppers.push(emulator.stop);
      return emulator;
    };
    const [dynamo, sqs, s3] = await Promise.all([
      startDynamoLocal({ dataDir: join(dataDir, "dynamodb") }).then(started),
      startSqsEmulator().then(started),
      startS3Emulator({ dataDir: join(dataDir, "s3"), buckets: [LOG_BUCKET] }).then(started),
    ]);

    const port = requested.PORT;
    const table = requested.HOOKFLOW_TABLE;
    const dynamoClient = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const sqsClient = new SQSClient({
      endpoint: sqs.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await ensureTable(dynamoClient, table);
    const { workUrl } = await ensureQueues(sqsClient, QUEUE_NAMES, {
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    const wakeUrl = await ensureWakeQueue(sqsClient, WAKE_QUEUE_NAME, {
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    dynamoClient.destroy();
    sqsClient.destroy();

    // Without a provider of one's own, sign-in works against a local one with demo people (new passwords each start).
    const publicUrl = env.HOOKFLOW_PUBLIC_URL || `http://127.0.0.1:${port}`;
    const local = env.HOOKFLOW_OIDC_ISSUER
      ? undefined
      : await (async () => {
          const users = demoUsers();
          const clientSecret = randomBytes(24).toString("base64url");
          const provider = await startLocalProvider({
            clientId: "hookflow",
            clientSecret,
            redirectUris: [`${publicUrl.replace(/\/+$/, "")}/auth/callback`],
            users,
          });
          stoppers.push(provider.close);
          return { issuer: provider.issuer, clientSecret, users };
        })();
    const config = loadConfig({
      HOOKFLOW_PUBLIC_URL: publicUrl,
      // Receivers on this machine are what a local stack's notifications are tried against (0 refuses them).
      HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "1",
      ...(local && {
        HOOKFLOW_OIDC_ISSUER: local.issuer,
        HOOKFLOW_OIDC_CLIENT_ID: "hookflow",
        HOOKFLOW_OIDC_CLIENT_SECRET: local.clientSecret,
        HOOKFLOW_ROLES: JSON.stringify(DEMO_ROLES),
      }),
      ...env,
      HOOKFLOW_DATA_DIR: dataDir,
      HOOKFLOW_TABLE: table,
      HOOKFLOW_QUEUE_URL: workUrl,
      HOOKFLOW_WAKE_QUEUE_URL: wakeUrl,
      HOOKFLOW_DYNAMODB_ENDPOINT: dynamo.endpoint,
      HOOKFLOW_SQS_ENDPOINT: sqs.endpoint,
      HOOKFLOW_S3_ENDPOINT: s3.endpoint,
      HOOKFLOW_LOG_BUCKET: LOG_BUCKET,
      HOOKFLOW_API_TOKEN: env.HOOKFLOW_API_TOKEN || secrets.apiToken,
      HOOKFLOW_TOKEN_SECRET: env.HOOKFLOW_TOKEN_SECRET || secrets.tokenSecret,
      HOOKFLOW_GITHUB_SECRET: env.HOOKFLOW_GITHUB_SECRET || secrets.githubSecret,
      HOOKFLOW_GITLAB_TOKEN: env.HOOKFLOW_GITLAB_TOKEN || secrets.gitlabToken,
      HOOKFLOW_GITEA_SECRET: env.HOOKFLOW_GITEA_SECRET || secrets.giteaSecret,
      PORT: String(port),
    });
    const base = buildBase(config, { log });
    const runner = await buildRunner(base);
    reportLocalEnds(base, runner);
    if ("stopAll" in runner && typeof runner.stopAll === "function") {
      const stopTasks = runner.stopAll.bind(runner) as () => Promise<void>;
      stoppers.push(stopTasks);
    }
    const catalog = definitionCatalog(base);
    const scheduling = await schedulerDeps(base, { runner });
    const webhook = createWebhookApp(webhookDeps(base, catalog));
    const callback = createCallbackApp(callbackDeps(base));
    const api = createApiApp(apiDeps(base, { runner }, catalog));

    // Each function's app answers its own paths, exactly as behind its Lambda.
    const app = new Hono();
    app.all("/webhooks/*", (c) => webhook.fetch(c.req.raw));
    app.all("/callbacks/*", (c) => callback.fetch(c.req.raw));
    app.all("/api/*", (c) => api.fetch(c.req.raw));
    // Sign-in and the console are the API function's too (infra/functions.ts ROUTES).
    for (const path of ["/auth/*", "/console/*", "/runs", "/runs/*", "/pipelines", "/pipelines/*"])
      app.all(path, (c) => api.fetch(c.req.raw));
    app.get("/healthz", (c) => c.json({ ok: true }));
    app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

    const server = await new Promise<ServerType>((resolveServer, reject) => {
      const started = serve({ fetch: app.fetch, port, hostname: env.HOOKFLOW_HOST ?? "127.0.0.1" }, () =>
        resolveServer(started),
      );
      started.once("error", reject);
    });
    stoppers.push(() => new Promise<void>((done) => server.close(() => done())));

    const poller = startQueuePoller(base.queue, createSchedulerHandler(scheduling), log, 1);
    stoppers.push(poller.stop);
    const wakeUps = wakeUpDeps(base);
    const wakePoller = startQueuePoller(wakeUps.wakeUps, createWakeUpHandler(wakeUps), log, 1);
    stoppers.push(wakePoller.stop);

    const every = options.reconcileSeconds ?? LOCAL_RECONCILE_SECONDS;
    const { schedules, slots } = reconcilerDeps(base);
    // Schedules are evaluated on the same timer: a tick more often than once a minute finds each minute claimed.
    const reconcile = () =>
      reconcileAll({ runs: base.stores.runs, queue: base.queue, clock: base.clock }, every)
        .then(() =>
          slots.repair().catch((error) => log.error("task slot repair failed", { error: String(error) })),
        )
        .then(() => schedules.tick())
        .catch((error) => log.error("reconcile failed", { error: String(error) }));
    void reconcile();
    const timer = setInterval(reconcile, every * 1000);
    stoppers.push(async () => clearInterval(timer));

    return {
      config,
      url: config.HOOKFLOW_PUBLIC_URL,
      apiToken: config.HOOKFLOW_API_TOKEN as string,
      secretSources: {
        github: env.HOOKFLOW_GITHUB_SECRET ? "environment" : "generated",
        gitlab: env.HOOKFLOW_GITLAB_TOKEN ? "environment" : "generated",
        gitea: env.HOOKFLOW_GITEA_SECRET ? "environment" : "generated",
      },
      runner: runnerKind(config),
      ...(local && { signIn: { issuer: local.issuer, users: local.users } }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
