import { Resource } from "sst/resource";
import * as z from "zod/mini";
import { ValidationError } from "./errors.js";
import { DEFAULT_ARCHIVED_LOG_MAX_BYTES, type Issue, issuesFromZod, RoleMap } from "./model/index.js";

const optionalSecret = z.pipe(
  z.optional(z.string()),
  z.transform((v) => (v === "" ? undefined : v)),
);

/** An empty variable counts as unset (an SST setting or secret left blank). */
const emptyIsUnset = <T extends z.ZodMiniType>(schema: T) =>
  z.pipe(
    z.transform((v) => (v === "" ? undefined : v)),
    schema,
  );

/**
 * A base URL hookflow hands out or is reached at: http(s), without a query or fragment (a path is appended to it)
 * or credentials, trailing slashes dropped.
 */
export function baseUrl() {
  return z.pipe(
    z
      .pipe(
        z.string().check(z.regex(/^https?:\/\/[^?#]*$/, "an http:// or https:// URL without ? or #")),
        z.url(),
      )
      .check(
        z.refine(
          (u) => !/^https?:\/\/[^/]*@/.test(u),
          "a URL without credentials (user:password@): they would be handed out",
        ),
      ),
    z.transform((u) => u.replace(/\/+$/, "")),
  );
}

/**
 * Configuration, validated once at start. The same names on AWS (from SST links and secrets, see infra/) and
 * locally (plain environment). Names are the contract's; those marked "extension" are hookflow's own.
 */
const ConfigSchema = z.object({
  HOOKFLOW_TABLE: z._default(z.string().check(z.minLength(1)), "hookflow"),
  HOOKFLOW_QUEUE_URL: z.optional(z.url()),
  /**
   * Extension: the standard SQS queue of delayed wake-ups ("look at this run again at time T"). Unset, only the
   * reconciler's tick looks at a run again (a task that does not call back is seen to end at the next tick).
   */
  HOOKFLOW_WAKE_QUEUE_URL: z.optional(z.url()),
  HOOKFLOW_API_TOKEN: optionalSecret,
  HOOKFLOW_PUBLIC_URL: z._default(baseUrl(), "http://127.0.0.1:8787"),
  /**
   * Extension: the base URL hookflow's own Jobs and relay are given for their reports (`/callbacks/tasks/{id}`,
   * `/callbacks/relay`). Unset, HOOKFLOW_PUBLIC_URL. On AWS it is the callback function's own URL, which costs
   * nothing per request where API Gateway charges for each.
   */
  HOOKFLOW_CALLBACK_BASE_URL: emptyIsUnset(z.optional(baseUrl())),
  HOOKFLOW_GITHUB_SECRET: optionalSecret,
  HOOKFLOW_GITLAB_TOKEN: optionalSecret,
  HOOKFLOW_GITEA_SECRET: optionalSecret,
  HOOKFLOW_GITHUB_TOKEN: optionalSecret,
  /** Extension: a GitLab access token with api scope, for commit statuses (HOOKFLOW_GITLAB_TOKEN is the webhook's). */
  HOOKFLOW_GITLAB_API_TOKEN: optionalSecret,
  /** Extension: API base URLs, for GitHub Enterprise and self-managed GitLab. */
  HOOKFLOW_GITHUB_API_URL: z._default(z.url(), "https://api.github.com"),
  HOOKFLOW_GITLAB_URL: z._default(z.url(), "https://gitlab.com"),
  /** Extension: a Gitea instance's base URL (without /api/v1) and an access token, for commit statuses. */
  HOOKFLOW_GITEA_URL: z.pipe(
    z.optional(z.url()),
    z.transform((u) => u?.replace(/\/+$/, "")),
  ),
  HOOKFLOW_GITEA_TOKEN: optionalSecret,
  HOOKFLOW_RUNNER: z.optional(z.enum(["kubernetes", "local"])),
  HOOKFLOW_KUBECONFIG: optionalSecret,
  KUBECONFIG: z.optional(z.string()),
  /**
   * Extension: an EKS cluster's name. With it the Kubernetes client signs in with the function's own IAM role (a
   * presigned STS GetCallerIdentity token, as `aws eks get-token` makes) and no credential is stored; where the
   * cluster is comes from HOOKFLOW_EKS_ENDPOINT and HOOKFLOW_EKS_CA_DATA, or from a kubeconfig without a user.
   */
  HOOKFLOW_EKS_CLUSTER: emptyIsUnset(
    z.optional(
      z
        .string()
        .check(
          z.regex(
            /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/,
            "an EKS cluster name: letters, digits, - and _, at most 100",
          ),
        ),
    ),
  ),
  /** Extension: the EKS cluster's API endpoint (`aws eks describe-cluster --query cluster.endpoint`). */
  HOOKFLOW_EKS_ENDPOINT: emptyIsUnset(
    z.optional(z.url().check(z.regex(/^https:\/\//, "the cluster's https:// endpoint"))),
  ),
  /** Extension: the EKS cluster's CA, base64 (`aws eks describe-cluster --query cluster.certificateAuthority.data`). */
  HOOKFLOW_EKS_CA_DATA: emptyIsUnset(
    z.optional(
      z
        .string()
        .check(
          z.regex(
            /^[A-Za-z0-9+/\s]+={0,2}\s*$/,
            "base64, as `aws eks describe-cluster` gives certificateAuthority.data",
          ),
        ),
    ),
  ),
  HOOKFLOW_NAMESPACE: z._default(z.string().check(z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)), "default"),
  PORT: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(65535)), 8787),
  HOOKFLOW_DATA_DIR: z._default(z.string(), ".hookflow"),
  /**
   * Extension: the bearer token of the in-cluster relay (`hookflow relay`), accepted only on
   * `POST /callbacks/relay`. Unset, that route refuses every request.
   */
  HOOKFLOW_RELAY_TOKEN: optionalSecret,
  /** Extension: the key callback tokens are derived from (one per task attempt). */
  HOOKFLOW_TOKEN_SECRET: optionalSecret,
  /** Extension: emulator endpoints (the local stack sets them); unset on AWS. */
  HOOKFLOW_DYNAMODB_ENDPOINT: z.optional(z.url()),
  HOOKFLOW_SQS_ENDPOINT: z.optional(z.url()),
  /** Extension: the S3 endpoint of the log archive (s3rver locally); unset on AWS. */
  HOOKFLOW_S3_ENDPOINT: z.optional(z.url()),
  /** Extension: the bucket ended attempts' logs are kept in (on AWS, from the HookflowLogs link). */
  HOOKFLOW_LOG_BUCKET: z.optional(z.string().check(z.minLength(3))),
  /** Extension: the largest log kept per container, in bytes (then its newest part is kept, and the cut said). */
  HOOKFLOW_LOG_MAX_BYTES: z._default(
    z.coerce.number().check(z.int(), z.gte(1024)),
    DEFAULT_ARCHIVED_LOG_MAX_BYTES,
  ),
  /** Extension: how many days the log bucket keeps a log (its lifecycle rule, set on deploy). */
  HOOKFLOW_LOG_RETENTION_DAYS: z._default(z.coerce.number().check(z.int(), z.gte(1)), 90),
  AWS_REGION: z._default(z.string(), "us-east-1"),
  /** Sign-in: any OpenID Connect provider (authorization code with PKCE). Unset: no sign-in, tokens only. */
  HOOKFLOW_OIDC_ISSUER: z.optional(z.url()),
  HOOKFLOW_OIDC_CLIENT_ID: z.optional(z.string().check(z.minLength(1))),
  HOOKFLOW_OIDC_CLIENT_SECRET: optionalSecret,
  /** Who holds which role: JSON `{"admin": [...], "operator": [...], "viewer": [...]}` (see core/model/principal.ts). */
  HOOKFLOW_ROLES: z.pipe(
    z._default(z.string(), "{}"),
    // A transform reports a problem by adding to its payload's issues (mini's has no `addIssue`).
    z.transform((text, payload) => {
      const problem = (message: string) => payload.issues.push({ code: "custom", message, input: text });
      try {
        const parsed = RoleMap.safeParse(JSON.parse(text));
        if (parsed.success) return parsed.data;
        for (const issue of parsed.error.issues)
          problem(`${issue.path.join(".") || "(top)"}: ${issue.message}`);
      } catch (error) {
        problem(`not JSON: ${(error as Error).message}`);
      }
      return z.NEVER;
    }),
  ),
  /** `debug` also writes the lines that explain routine decisions (a wake-up dropped); `info` (the default) not. */
  HOOKFLOW_LOG_LEVEL: z._default(z.enum(["info", "debug"]), "info"),
  /** How long audit entries are kept (DynamoDB TTL). */
  HOOKFLOW_AUDIT_RETENTION_DAYS: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(3650)), 365),
  /** Extension: how long a console session lasts. */
  HOOKFLOW_SESSION_HOURS: z._default(z.coerce.number().check(z.gte(0.1), z.lte(24 * 30)), 12),
  /**
   * How long the view grant in a notification's or commit status's link lets its reader see that run without
   * signing in (stages, tasks, statuses, durations, the failure). Signed with a key derived from
   * HOOKFLOW_TOKEN_SECRET; 0 sends links without a grant.
   */
  HOOKFLOW_VIEW_GRANT_DAYS: z._default(z.coerce.number().check(z.gte(0), z.lte(90)), 7),
  /**
   * Extension: notifications may go to loopback addresses (127.0.0.0/8, ::1, localhost). Only the local stack
   * and tests set it; every other private, link-local or reserved address stays refused (core/model/addresses.ts).
   */
  HOOKFLOW_ALLOW_LOOPBACK_TARGETS: z.pipe(
    z.optional(
      z.enum(["", "0", "1", "false", "true"], "1 or true to allow, 0 or false (the default) to refuse"),
    ),
    z.transform((v) => v === "1" || v === "true"),
  ),
  /** Set by Lambda itself: its runtime API listens on loopback there, so loopback is never allowed inside it. */
  AWS_LAMBDA_RUNTIME_API: z.optional(z.string()),
  /** Extension: how long the webhook caches pipeline definitions (0 = read them on every delivery). */
  HOOKFLOW_DEFINITION_CACHE_SECONDS: z._default(z.coerce.number().check(z.gte(0)), 5),
});
export type Config = z.infer<typeof ConfigSchema>;

/**
 * Where each setting comes from on AWS: the SST component linked to a function (infra/sst/hookflow.ts names
 * its components from this table) and the property of the link that carries it.
 */
export const SST_LINKS = {
  HOOKFLOW_TABLE: { link: "HookflowTable", property: "name" },
  HOOKFLOW_QUEUE_URL: { link: "HookflowQueue", property: "url" },
  HOOKFLOW_WAKE_QUEUE_URL: { link: "HookflowWakeQueue", property: "url" },
  HOOKFLOW_PUBLIC_URL: { link: "HookflowApi", property: "url" },
  // The callback function's URL (infra/functions.ts FUNCTION_URLS). Linking a function also lets its holder invoke it.
  HOOKFLOW_CALLBACK_BASE_URL: { link: "HookflowCallback", property: "url" },
  HOOKFLOW_API_TOKEN: { link: "HookflowApiToken", property: "value" },
  HOOKFLOW_TOKEN_SECRET: { link: "HookflowTokenSecret", property: "value" },
  HOOKFLOW_RELAY_TOKEN: { link: "HookflowRelayToken", property: "value" },
  HOOKFLOW_GITHUB_SECRET: { link: "HookflowGithubSecret", property: "value" },
  HOOKFLOW_GITLAB_TOKEN: { link: "HookflowGitlabToken", property: "value" },
  HOOKFLOW_GITEA_SECRET: { link: "HookflowGiteaSecret", property: "value" },
  HOOKFLOW_GITHUB_TOKEN: { link: "HookflowGithubToken", property: "value" },
  HOOKFLOW_GITLAB_API_TOKEN: { link: "HookflowGitlabApiToken", property: "value" },
  HOOKFLOW_GITEA_TOKEN: { link: "HookflowGiteaToken", property: "value" },
  HOOKFLOW_KUBECONFIG: { link: "HookflowKubeconfig", property: "value" },
  HOOKFLOW_OIDC_CLIENT_SECRET: { link: "HookflowOidcClientSecret", property: "value" },
  HOOKFLOW_LOG_BUCKET: { link: "HookflowLogs", property: "name" },
} as const satisfies Partial<Record<keyof Config, { link: string; property: string }>>;
export type LinkedSetting = keyof typeof SST_LINKS;

type Environment = Record<string, string | undefined>;

/**
 * The settings SST links carry, under the contract's names. SST's `Resource` decrypts the links from the
 * function's bundle (`SST_KEY_FILE`, so a kubeconfig does not count against Lambda's 4 KB of environment) and
 * reads `SST_RESOURCE_*`; without SST it holds nothing and this returns nothing.
 */
function linkedEnvironment(
  resources: object = Resource,
  env: Environment = process.env,
): Record<LinkedSetting, string | undefined> {
  const linked = {} as Record<LinkedSetting, string | undefined>;
  for (const [setting, { link, property }] of Object.entries(SST_LINKS) as Array<
    [LinkedSetting, (typeof SST_LINKS)[LinkedSetting]]
  >) {
    // `in` first: SST's Resource throws on a read of a component that is not linked. It decrypts and parses
    // every link on that first read, so a broken one fails here, whichever setting is asked for.
    let present: boolean;
    try {
      present = link in resources;
    } catch (error) {
      throw new ValidationError("invalid configuration", [unreadableLinks(error, env)]);
    }
    if (!present) continue;
    const value = (resources as Record<string, Record<string, unknown> | undefined>)[link]?.[property];
    if (typeof value === "string") linked[setting] = value;
  }
  return linked;
}

/** Which setting a failure to read SST's links concerns: the one whose `SST_RESOURCE_*` variable is not JSON, else all. */
function unreadableLinks(error: unknown, env: Environment): Issue {
  const reason = error instanceof Error ? error.message : String(error);
  for (const [setting, { link }] of Object.entries(SST_LINKS)) {
    const variable = `SST_RESOURCE_${link}`;
    const text = env[variable];
    if (!text) continue;
    try {
      JSON.parse(text);
    } catch {
      return {
        path: setting,
        message: `its SST link ${variable} is not JSON (${reason}): redeploy with \`sst deploy\``,
      };
    }
  }
  return {
    path: "SST_KEY_FILE",
    message: `SST's links could not be read (${reason}): the function's bundle and SST_KEY must come from the same \`sst deploy\``,
  };
}

/** SST links under the contract's names, overridden by the plain environment (an empty variable counts as unset). */
export function runtimeEnvironment(
  env: Environment = process.env,
  resources: object = Resource,
): Environment {
  const merged: Environment = { ...linkedEnvironment(resources, env) };
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && value !== "") merged[name] = value;
  return merged;
}

/**
 * Validates configuration. Without an argument (as Lambda handlers call it) it reads SST links and the process
 * environment; an explicit environment (tests, the local stack) is used as given, so links never leak into it.
 */
export function loadConfig(env: Environment = runtimeEnvironment()): Config {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) throw new ValidationError("invalid configuration", issuesFromZod(result.error));
  const config = result.data;
  const eks = eksProblems(config);
  if (eks.length > 0) throw new ValidationError("invalid configuration", eks);
  // Without a kubeconfig the Kubernetes client quietly talks to localhost:8080, where every submission fails as
  // retryable until its message is dead-lettered: on Lambda that is an empty HOOKFLOW_KUBECONFIG secret.
  if (
    runnerKind(config) === "kubernetes" &&
    !config.HOOKFLOW_KUBECONFIG &&
    !config.KUBECONFIG &&
    !config.HOOKFLOW_EKS_ENDPOINT
  )
    throw new ValidationError("invalid configuration", [
      {
        path: "HOOKFLOW_KUBECONFIG",
        message:
          "the Kubernetes runner needs a kubeconfig and this is empty: give the kubeconfig's text (or KUBECONFIG, a file)",
      },
    ]);
  if (config.HOOKFLOW_OIDC_ISSUER) {
    const missing = (["HOOKFLOW_OIDC_CLIENT_ID", "HOOKFLOW_TOKEN_SECRET"] as const).filter((n) => !config[n]);
    if (missing.length > 0)
      throw new ValidationError(
        "invalid configuration",
        missing.map((path) => ({
          path,
          message:
            path === "HOOKFLOW_OIDC_CLIENT_ID"
              ? "sign-in (HOOKFLOW_OIDC_ISSUER) needs the client id registered with the provider"
              : "sign-in (HOOKFLOW_OIDC_ISSUER) signs its session cookies with a key derived from this",
        })),
      );
  }
  return config;
}

/**
 * Where an EKS cluster is, given by exactly one means: its endpoint and CA, or a kubeconfig (which the Kubernetes
 * adapter checks carries no user credentials). Either part of the endpoint alone, or either without a cluster
 * name, is a mistake worth naming rather than a Kubernetes client that quietly signs in some other way.
 */
function eksProblems(config: Config): Issue[] {
  const cluster = config.HOOKFLOW_EKS_CLUSTER;
  const { HOOKFLOW_EKS_ENDPOINT: endpoint, HOOKFLOW_EKS_CA_DATA: ca } = config;
  const kubeconfig = config.HOOKFLOW_KUBECONFIG || config.KUBECONFIG;
  if (!cluster)
    return (["HOOKFLOW_EKS_ENDPOINT", "HOOKFLOW_EKS_CA_DATA"] as const)
      .filter((name) => config[name])
      .map((path) => ({
        path,
        message: "is used only with HOOKFLOW_EKS_CLUSTER (the cluster's name): set it too",
      }));
  if (config.HOOKFLOW_RUNNER === "local")
    return [
      {
        path: "HOOKFLOW_RUNNER",
        message: "is local, but HOOKFLOW_EKS_CLUSTER names a cluster to run Jobs on",
      },
    ];
  if (endpoint && kubeconfig)
    return [
      {
        path: "HOOKFLOW_EKS_ENDPOINT",
        message:
          "and a kubeconfig (HOOKFLOW_KUBECONFIG or KUBECONFIG) both say where the cluster is: give one of them",
      },
    ];
  if (endpoint && !ca)
    return [
      {
        path: "HOOKFLOW_EKS_CA_DATA",
        message:
          "is needed with HOOKFLOW_EKS_ENDPOINT: the cluster's CA (aws eks describe-cluster --query cluster.certificateAuthority.data)",
      },
    ];
  if (ca && !endpoint)
    return [
      {
        path: "HOOKFLOW_EKS_ENDPOINT",
        message: "is needed with HOOKFLOW_EKS_CA_DATA: the cluster's https:// endpoint",
      },
    ];
  if (!endpoint && !kubeconfig)
    return [
      {
        path: "HOOKFLOW_EKS_ENDPOINT",
        message: `HOOKFLOW_EKS_CLUSTER ("${cluster}") needs to know where the cluster is: its endpoint and CA (HOOKFLOW_EKS_ENDPOINT, HOOKFLOW_EKS_CA_DATA, from aws eks describe-cluster), or a kubeconfig without a user in HOOKFLOW_KUBECONFIG`,
      },
    ];
  return [];
}

/** Where hookflow's own Jobs and relay report: HOOKFLOW_CALLBACK_BASE_URL, else HOOKFLOW_PUBLIC_URL. */
export function callbackBaseUrl(config: Config): string {
  return config.HOOKFLOW_CALLBACK_BASE_URL ?? config.HOOKFLOW_PUBLIC_URL;
}

/**
 * The runner `npm start` and Lambda use: Kubernetes when a kubeconfig or an EKS cluster is given, else local
 * processes.
 */
export function runnerKind(config: Config): "kubernetes" | "local" {
  return (
    config.HOOKFLOW_RUNNER ??
    (config.HOOKFLOW_KUBECONFIG || config.KUBECONFIG || config.HOOKFLOW_EKS_CLUSTER ? "kubernetes" : "local")
  );
}

/** The settings that are credentials: never logged, shown or sent (the logger masks their values anywhere). */
export const SECRET_SETTINGS = [
  "HOOKFLOW_API_TOKEN",
  "HOOKFLOW_TOKEN_SECRET",
  "HOOKFLOW_RELAY_TOKEN",
  "HOOKFLOW_GITHUB_SECRET",
  "HOOKFLOW_GITLAB_TOKEN",
  "HOOKFLOW_GITEA_SECRET",
  "HOOKFLOW_GITHUB_TOKEN",
  "HOOKFLOW_GITLAB_API_TOKEN",
  "HOOKFLOW_GITEA_TOKEN",
  "HOOKFLOW_KUBECONFIG",
  "HOOKFLOW_OIDC_CLIENT_SECRET",
] as const satisfies ReadonlyArray<keyof Config>;

/** The values of the secret settings that are set, longest first (so a secret inside another is masked whole). */
export function configuredSecrets(config: Config): string[] {
  return SECRET_SETTINGS.map((name) => config[name])
    .filter((v): v is string => typeof v === "string" && v.length > 0)
    .sort((a, b) => b.length - a.length);
}
