import { inject } from "vitest";
import { silentLogger } from "../../core/adapters/system.js";
import { type Config, loadConfig } from "../../core/config.js";
import {
  apiDeps,
  type Base,
  buildBase,
  callbackDeps,
  definitionCatalog,
  type Overrides,
  recorder,
  runCommands,
  schedulerDeps,
  webhookDeps,
} from "../../core/wiring.js";
import type { FakeGitHosts } from "../fake-git-hosts/index.js";
import { freshBucket, freshQueue, freshStore } from "./aws.js";
import { MemoryRunner } from "./memory-runner.js";

export const TEST_TOKEN_SECRET = "test-token-secret-0123456789";
export const PUBLIC_URL = "http://127.0.0.1:8787";
export const SECRETS = { github: "gh-secret", gitlab: "gl-token", gitea: "gt-secret" } as const;

/**
 * The product as the functions wire it (core/wiring.ts), on a table and queue of its own on the emulators. The
 * runner and the outside world default to in-memory stand-ins; a test passes real ones where they are the
 * subject (the fake Kubernetes API, local receivers).
 */
export async function testSystem(
  options: Overrides & {
    env?: Record<string, string>;
    visibilityTimeoutSeconds?: number;
    /** Git hosts' APIs to call (test/fake-git-hosts); none by default, so no host is asked. */
    gitHosts?: FakeGitHosts;
  } = {},
) {
  const { table } = await freshStore();
  const queues = await freshQueue({ visibilityTimeoutSeconds: options.visibilityTimeoutSeconds });
  const s3Endpoint = options.env?.HOOKFLOW_S3_ENDPOINT ?? inject("s3Endpoint");
  const bucket = options.env?.HOOKFLOW_LOG_BUCKET ?? (await freshBucket(s3Endpoint));
  const config: Config = loadConfig({
    HOOKFLOW_TABLE: table,
    HOOKFLOW_QUEUE_URL: queues.workUrl,
    HOOKFLOW_DYNAMODB_ENDPOINT: inject("dynamoEndpoint"),
    HOOKFLOW_SQS_ENDPOINT: inject("sqsEndpoint"),
    HOOKFLOW_PUBLIC_URL: PUBLIC_URL,
    HOOKFLOW_TOKEN_SECRET: TEST_TOKEN_SECRET,
    HOOKFLOW_API_TOKEN: "test-api-token",
    HOOKFLOW_GITHUB_SECRET: SECRETS.github,
    HOOKFLOW_GITLAB_TOKEN: SECRETS.gitlab,
    HOOKFLOW_GITEA_SECRET: SECRETS.gitea,
    HOOKFLOW_DEFINITION_CACHE_SECONDS: "0",
    HOOKFLOW_S3_ENDPOINT: s3Endpoint,
    HOOKFLOW_LOG_BUCKET: bucket,
    // The test receivers listen on loopback, as the local stack's do.
    HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "1",
    ...options.gitHosts?.settings(),
    ...options.env,
  });
  const overrides: Overrides = {
    log: silentLogger,
    sender: { send: async () => {} },
    commitStatus: { enabledFor: () => false, report: async () => {} },
    ...options,
    runner: options.runner ?? new MemoryRunner(),
  };
  const base: Base = buildBase(config, overrides);
  const scheduling = await schedulerDeps(base, overrides);
  const catalog = definitionCatalog(base);
  return {
    ...base,
    queues,
    bucket,
    recorder: recorder(base),
    commands: runCommands(base),
    catalog,
    webhook: webhookDeps(base, catalog, overrides),
    api: apiDeps(base, overrides, catalog),
    callback: callbackDeps(base),
    ...scheduling,
  };
}
