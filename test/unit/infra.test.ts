import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TTL_ATTRIBUTE, tableDefinition } from "../../core/adapters/dynamo/table.js";
import { callbackBaseUrl, loadConfig, runtimeEnvironment, SST_LINKS } from "../../core/config.js";
import {
  deploySettings,
  eksSettings,
  FUNCTION_NAMES,
  FUNCTION_URLS,
  FUNCTIONS,
  HTTP_TIMEOUT_LIMIT_SECONDS,
  handlerSource,
  QUEUE,
  ROUTES,
  talksToKubernetes,
  vpcPlan,
} from "../../infra/functions.js";
import { tableArgs } from "../../infra/table.js";

const ROOT = join(import.meta.dirname, "../..");

describe("the functions infra/ deploys", () => {
  it.each(FUNCTION_NAMES)("%s: the handler infra/functions.ts names exists and exports it", async (name) => {
    const { file, exportName } = handlerSource(FUNCTIONS[name].handler);
    expect(existsSync(join(ROOT, file)), file).toBe(true);
    const module = (await import(join(ROOT, file))) as Record<string, unknown>;
    expect(typeof module[exportName]).toBe("function");
  });

  it("routes every HTTP path of the contract to a function API Gateway can wait for", () => {
    expect(Object.keys(ROUTES).sort()).toEqual([
      "ANY /api/{proxy+}",
      "ANY /auth/{proxy+}",
      "ANY /console/{proxy+}",
      "ANY /webhooks/{provider}",
      "GET /healthz",
      "GET /pipelines",
      "GET /pipelines/{proxy+}",
      "GET /runs",
      "GET /runs/{proxy+}",
      "POST /callbacks/relay",
      "POST /callbacks/tasks/{taskId}",
    ]);
    for (const name of new Set(Object.values(ROUTES)))
      expect(FUNCTIONS[name].timeoutSeconds).toBeLessThan(HTTP_TIMEOUT_LIMIT_SECONDS);
  });

  it("passes the deploy's plain settings to the functions, and only those", () => {
    expect(
      deploySettings({
        HOOKFLOW_NAMESPACE: "ci",
        HOOKFLOW_GITLAB_URL: "",
        HOOKFLOW_API_TOKEN: "secret",
        PATH: "/bin",
      }),
    ).toEqual({ HOOKFLOW_NAMESPACE: "ci" });
  });

  it("gives the callback and webhook functions, alone, a function URL; their routes stay on API Gateway", () => {
    // Jobs and git hosts hold no AWS credentials (no IAM authorization) and no browser calls them (no CORS): the
    // callback routes check each request's task or relay token, the webhook routes each delivery's signature.
    expect(FUNCTION_URLS).toEqual({
      callback: { authorization: "none", cors: false },
      webhook: { authorization: "none", cors: false },
    });
    expect(Object.entries(ROUTES).filter(([, name]) => name === "webhook")).toEqual([
      ["ANY /webhooks/{provider}", "webhook"],
    ]);
    const callbackRoutes = Object.entries(ROUTES).filter(([, name]) => name === "callback");
    expect(callbackRoutes.map(([route]) => route).sort()).toEqual([
      "POST /callbacks/relay",
      "POST /callbacks/tasks/{taskId}",
    ]);
    // The URL reaches what builds each Job's callback URL (the scheduler), through the callback function's link.
    const holders = FUNCTION_NAMES.filter((name) =>
      (FUNCTIONS[name].links as readonly string[]).includes("HOOKFLOW_CALLBACK_BASE_URL"),
    );
    expect(holders).toEqual(["scheduler"]);
    expect(SST_LINKS.HOOKFLOW_CALLBACK_BASE_URL).toEqual({ link: "HookflowCallback", property: "url" });
    expect(FUNCTIONS.callback.links).not.toContain("HOOKFLOW_CALLBACK_BASE_URL");
  });

  it("keeps a message invisible at least six times the scheduler's timeout, as AWS requires", () => {
    expect(QUEUE.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * FUNCTIONS.scheduler.timeoutSeconds);
    expect(QUEUE.batchSize).toBeLessThanOrEqual(10);
  });

  it("gives secrets only to the functions that read them", () => {
    const holders = (setting: string) =>
      FUNCTION_NAMES.filter((name) => (FUNCTIONS[name].links as readonly string[]).includes(setting)).sort();
    expect(holders("HOOKFLOW_API_TOKEN")).toEqual(["api"]);
    expect(holders("HOOKFLOW_GITHUB_SECRET")).toEqual(["webhook"]);
    expect(holders("HOOKFLOW_GITHUB_TOKEN")).toEqual(["scheduler"]);
    expect(holders("HOOKFLOW_KUBECONFIG")).toEqual(["api", "scheduler"]);
    expect(holders("HOOKFLOW_TOKEN_SECRET")).toEqual(["api", "callback", "scheduler"]);
  });
});

describe("the table SST creates", () => {
  it("is the table the tests and the local stack create: keys, every index, the TTL", () => {
    const definition = tableDefinition("hookflow");
    const args = tableArgs(definition);
    expect(args.ttl).toBe(TTL_ATTRIBUTE);
    expect(Object.keys(args.fields).sort()).toEqual(
      (definition.AttributeDefinitions ?? []).map((a) => a.AttributeName).sort(),
    );
    expect(Object.keys(args.globalIndexes).sort()).toEqual(
      (definition.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort(),
    );
    const hash = definition.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName;
    expect(args.primaryIndex.hashKey).toBe(hash);
  });

  it("keeps the first release's index names and key attributes: renaming one rebuilds it on AWS", () => {
    const indexes = (tableDefinition("hookflow").GlobalSecondaryIndexes ?? []).map((i) => [
      i.IndexName,
      ...(i.KeySchema ?? []).map((k) => k.AttributeName),
    ]);
    expect(indexes).toEqual([
      ["byPipeline", "gsi1pk", "gsi1sk"],
      ["byTime", "gsi2pk", "gsi2sk"],
      ["active", "activePk", "activeSk"],
    ]);
  });

  it("refuses what sst.aws.Dynamo cannot express instead of dropping it", () => {
    const definition = tableDefinition("hookflow");
    expect(() => tableArgs({ ...definition, BillingMode: "PROVISIONED" })).toThrow(/on-demand/);
    expect(() =>
      tableArgs({ ...definition, StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_IMAGE" } }),
    ).toThrow(/streams/);
  });
});

describe("configuration from SST links", () => {
  const resources = {
    HookflowTable: { name: "table-from-link" },
    HookflowQueue: { url: "https://sqs.example/queue.fifo" },
    HookflowApiToken: { value: "token-from-link" },
  };

  it("reads each setting from its linked component under the contract's name", () => {
    const config = loadConfig(runtimeEnvironment({}, resources));
    expect(config.HOOKFLOW_TABLE).toBe("table-from-link");
    expect(config.HOOKFLOW_QUEUE_URL).toBe("https://sqs.example/queue.fifo");
    expect(config.HOOKFLOW_API_TOKEN).toBe("token-from-link");
  });

  it("reads the callback function's URL as where Jobs report, and the deploy's own setting over it", () => {
    const linked = {
      ...resources,
      HookflowCallback: { name: "fn", url: "https://abc123.lambda-url.us-east-1.on.aws/" },
    };
    expect(callbackBaseUrl(loadConfig(runtimeEnvironment({}, linked)))).toBe(
      "https://abc123.lambda-url.us-east-1.on.aws",
    );
    const given = deploySettings({ HOOKFLOW_CALLBACK_BASE_URL: "https://ci.example.com" });
    expect(callbackBaseUrl(loadConfig(runtimeEnvironment(given, linked)))).toBe("https://ci.example.com");
    // Without the link (the local stack, an older deploy) Jobs report to the public URL, as before.
    expect(
      callbackBaseUrl(
        loadConfig(runtimeEnvironment({ HOOKFLOW_PUBLIC_URL: "https://ci.example.com" }, resources)),
      ),
    ).toBe("https://ci.example.com");
  });

  it("lets the plain environment override a link, but not with an empty value", () => {
    const env = runtimeEnvironment({ HOOKFLOW_TABLE: "from-env", HOOKFLOW_API_TOKEN: "" }, resources);
    expect(env.HOOKFLOW_TABLE).toBe("from-env");
    expect(env.HOOKFLOW_API_TOKEN).toBe("token-from-link");
  });

  it("names a link for every secret a function is given", () => {
    for (const name of FUNCTION_NAMES)
      for (const setting of FUNCTIONS[name].links) expect(SST_LINKS[setting].link).toMatch(/^Hookflow/);
  });
});

/**
 * The handlers as Lambda runs them: bundled as SST bundles them (once per file, into a temporary directory), each
 * invocation in a fresh Node process configured the way SST configures a function (encrypted links in a file,
 * plain settings in the environment), given the sample events in test/fixtures/lambda. An error is reported as
 * the Lambda runtime reports it: its name as `errorType`, its message as `errorMessage`.
 */

describe("EKS and VPC deploy settings", () => {
  it("gives EKS sign-in only to the functions that talk to Kubernetes, and looks the cluster up when asked to", () => {
    expect(FUNCTION_NAMES.filter(talksToKubernetes)).toEqual(["api", "scheduler"]);
    expect(eksSettings({ HOOKFLOW_EKS_CLUSTER: "prod" })).toEqual({
      settings: { HOOKFLOW_EKS_CLUSTER: "prod" },
      lookUp: true,
    });
    expect(
      eksSettings({
        HOOKFLOW_EKS_CLUSTER: "prod",
        HOOKFLOW_EKS_ENDPOINT: "https://x",
        HOOKFLOW_EKS_CA_DATA: "AA==",
      }).lookUp,
    ).toBe(false);
    expect(eksSettings({})).toEqual({ settings: {}, lookUp: false });
  });

  it("puts the Kubernetes functions in an existing VPC, with the endpoints asked for", () => {
    expect(vpcPlan({})).toBeUndefined();
    expect(
      vpcPlan({
        HOOKFLOW_VPC_SUBNETS: "subnet-0123456789abcdef0, subnet-0123456789abcdef1",
        HOOKFLOW_VPC_SECURITY_GROUPS: "sg-0123456789abcdef0",
        HOOKFLOW_VPC_ROUTE_TABLES: "rtb-0123456789abcdef0",
        HOOKFLOW_VPC_ENDPOINTS: "dynamodb,s3,sqs,s3",
      }),
    ).toEqual({
      privateSubnets: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
      securityGroups: ["sg-0123456789abcdef0"],
      routeTables: ["rtb-0123456789abcdef0"],
      endpoints: ["dynamodb", "s3", "sqs"],
    });
  });

  it.each([
    [
      { HOOKFLOW_VPC_SUBNETS: "subnet-0123456789abcdef0" },
      /HOOKFLOW_VPC_SECURITY_GROUPS: the functions in the VPC need/,
    ],
    [
      { HOOKFLOW_VPC_SECURITY_GROUPS: "sg-0123456789abcdef0" },
      /HOOKFLOW_VPC_SECURITY_GROUPS: is used only with/,
    ],
    [
      { HOOKFLOW_VPC_SUBNETS: "vpc-0123456789abcdef0", HOOKFLOW_VPC_SECURITY_GROUPS: "sg-0123456789abcdef0" },
      /"vpc-0123456789abcdef0" is not a subnet-/,
    ],
    [
      {
        HOOKFLOW_VPC_SUBNETS: "subnet-0123456789abcdef0",
        HOOKFLOW_VPC_SECURITY_GROUPS: "sg-0123456789abcdef0",
        HOOKFLOW_VPC_ENDPOINTS: "dynamodb",
      },
      /HOOKFLOW_VPC_ROUTE_TABLES: gateway endpoints \(dynamodb\)/,
    ],
    [
      {
        HOOKFLOW_VPC_SUBNETS: "subnet-0123456789abcdef0",
        HOOKFLOW_VPC_SECURITY_GROUPS: "sg-0123456789abcdef0",
        HOOKFLOW_VPC_ENDPOINTS: "sts",
      },
      /"sts" is not one of dynamodb, s3, sqs/,
    ],
  ])("refuses %j naming the setting", (env, expected) => {
    expect(() => vpcPlan(env)).toThrow(expected);
  });
});
