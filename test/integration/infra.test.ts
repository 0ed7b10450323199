import { execFile } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from "vitest";
import { signedWebhookRequest } from "../../core/adapters/git/index.js";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { ensureWakeQueue } from "../../core/adapters/sqs/wake-ups.js";
import { systemClock } from "../../core/adapters/system.js";
import {
  BOOTSTRAP_TOKEN,
  LAMBDA_PAYLOAD_BYTES,
  LIMITS,
  LOG_CUT_NOTICE,
  WEBHOOK_BODY_LIMITS,
} from "../../core/model/index.js";
import { ViewGrants } from "../../core/services/view-grants.js";
import { type Bundle, bundleFunction } from "../../infra/bundle.js";
import {
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  type FunctionPlan,
  ON_DEMAND_ADAPTERS,
  type OnDemandAdapter,
  ROUTES,
} from "../../infra/functions.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../infra/local/emulators.js";
import { type FakeKubernetes, startFakeKubernetes } from "../fake-kubernetes/index.js";
import { freshBucket, freshQueue, freshStore, sqsClient } from "../helpers/aws.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, pipeline, runTask, taskState, trigger } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { PUBLIC_URL, SECRETS, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";
import { fixture as webhookFixture } from "../helpers/webhooks.js";

const ROOT = join(import.meta.dirname, "../..");
const lambdaFixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(ROOT, "test/fixtures/lambda", `${name}.json`), "utf8"));

describe("the bundles esbuild makes, invoked as Lambda invokes them", () => {
  let outRoot: string;
  const bundles = {} as Record<FunctionName, Bundle>;
  beforeAll(async () => {
    outRoot = mkdtempSync(join(tmpdir(), "hookflow-bundle-"));
    for (const name of FUNCTION_NAMES) bundles[name] = await bundleFunction(name, outRoot);
  }, 120_000);
  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

  let invocations = 0;
  /**
   * Runs `events` through a function's bundled handler in one fresh process, as one warm container would. No
   * invocation may run an AsyncLocalStorage: its first `run` turns on Node's promise hooks for the whole process,
   * a cost every later promise pays (issue 20, docs/decisions.md §5); log fields are carried by hand, and the
   * console's pages are rendered by its own JSX (`functions/console/html.ts`), not hono/jsx, which renders inside
   * an AsyncLocalStorage of its own.
   */
  async function invoke(
    name: FunctionName,
    events: unknown[],
    settings: { links: Record<string, Record<string, string>>; env?: Record<string, string> },
  ): Promise<
    Array<{ result?: unknown; errorType?: string; errorMessage?: string; bytes: number }> & { output: string }
  > {
    const dir = join(outRoot, `invocation-${++invocations}`);
    mkdirSync(dir);
    // What SST does on deploy: the links, encrypted with AES-256-GCM under a per-function key, in a file.
    const key = randomBytes(32);
    const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12, 0));
    const encrypted = Buffer.concat([
      cipher.update(JSON.stringify(settings.links)),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    writeFileSync(join(dir, "resource.enc"), encrypted);
    writeFileSync(join(dir, "events.json"), JSON.stringify(events));
    const script = `
      import { AsyncLocalStorage } from "node:async_hooks";
      import { readFileSync, writeFileSync } from "node:fs";
      let asyncContexts = 0;
      for (const method of ["run", "enterWith"]) {
        const original = AsyncLocalStorage.prototype[method];
        AsyncLocalStorage.prototype[method] = function (...args) {
          asyncContexts++;
          return original.apply(this, args);
        };
      }
      const { handler } = await import(${JSON.stringify(bundles[name].entry)});
      const context = { functionName: ${JSON.stringify(name)}, awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
        getRemainingTimeInMillis: () => 10000 };
      const answers = [];
      for (const event of JSON.parse(readFileSync(${JSON.stringify(join(dir, "events.json"))}, "utf8"))) {
        try {
          const result = await handler(event, context);
          answers.push({ result, bytes: Buffer.byteLength(JSON.stringify(result) ?? "") });
        } catch (error) {
          answers.push({ errorType: error.name, errorMessage: error.message, bytes: 0 });
        }
      }
      writeFileSync(${JSON.stringify(join(dir, "answers.json"))}, JSON.stringify({ answers, asyncContexts }));`;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", script],
      {
        env: {
          PATH: process.env.PATH,
          SST_KEY: key.toString("base64"),
          SST_KEY_FILE: join(dir, "resource.enc"),
          HOOKFLOW_DYNAMODB_ENDPOINT: inject("dynamoEndpoint"),
          HOOKFLOW_SQS_ENDPOINT: inject("sqsEndpoint"),
          HOOKFLOW_S3_ENDPOINT: inject("s3Endpoint"),
          AWS_REGION: LOCAL_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_LAMBDA_FUNCTION_NAME: name,
          ...settings.env,
        },
      },
    );
    const { answers, asyncContexts } = JSON.parse(readFileSync(join(dir, "answers.json"), "utf8"));
    expect(asyncContexts, `${name} ran an AsyncLocalStorage`).toBe(0);
    // The answers, and what the function logged (Lambda sends both streams to CloudWatch).
    return Object.assign(answers, { output: stdout + stderr });
  }

  async function stateLinks() {
    const { table } = await freshStore();
    const { workUrl } = await freshQueue();
    return { HookflowTable: { name: table }, HookflowQueue: { url: workUrl } };
  }

  /** The API Gateway HTTP API sample event, addressed to one of hookflow's routes. */
  function httpEvent(
    sample: "apigw-v2-powertools" | "apigw-v2-aws-lambda-go",
    request: {
      method: string;
      path: string;
      query?: string;
      headers?: Record<string, string>;
      body?: string;
    },
  ) {
    const event = lambdaFixture(sample) as {
      headers: Record<string, string>;
      requestContext: { http: Record<string, string> } & Record<string, unknown>;
    } & Record<string, unknown>;
    const route = Object.keys(ROUTES).find((r) => {
      const [method = "", pattern = ""] = r.split(" ");
      const regex = new RegExp(`^${pattern.replace(/\{[^}]+\+\}/g, ".+").replace(/\{[^}]+\}/g, "[^/]+")}$`);
      return (method === "ANY" || method === request.method) && regex.test(request.path);
    });
    return {
      ...event,
      routeKey: route,
      rawPath: request.path,
      rawQueryString: request.query ?? "",
      headers: {
        ...event.headers,
        ...request.headers,
        "content-length": String(Buffer.byteLength(request.body ?? "")),
      },
      requestContext: {
        ...event.requestContext,
        routeKey: route,
        http: { ...event.requestContext.http, method: request.method, path: request.path },
      },
      ...(request.body !== undefined && { body: request.body }),
    };
  }

  it("bundles every function into a module that exports its handler", async () => {
    for (const name of FUNCTION_NAMES) {
      const bundle = bundles[name];
      expect(bundle.startupBytes).toBeGreaterThan(0);
      expect(bundle.totalBytes).toBeGreaterThanOrEqual(bundle.startupBytes);
      const module = (await import(bundle.entry)) as Record<string, unknown>;
      expect(typeof module.handler, name).toBe("function");
    }
  });

  it("starts the api without the OpenAPI generator, the answers' schemas or zod's locales (issue 20)", async () => {
    const atStart = bundles.api.startupInputs;
    expect(atStart).toContain("functions/api.ts");
    expect(atStart).toContain("functions/api-schemas.ts");
    const loadedLater = atStart.filter(
      (input) =>
        input === "functions/api-openapi.ts" ||
        input === "functions/api-responses.ts" ||
        input.endsWith(".cjs") ||
        (input.includes("zod/v4/locales/") && !input.endsWith("/en.js")),
    );
    expect(loadedLater).toEqual([]);
    // zod's JSON Schema generator is the document's alone (api-openapi.ts takes it from zod's CommonJS build).
    expect(atStart.filter((input) => /zod\/v4\/core\/(to-)?json-schema/.test(input))).toEqual([]);
    const [answer] = await invoke(
      "api",
      [
        httpEvent("apigw-v2-powertools", {
          method: "GET",
          path: "/api/openapi.json",
          headers: { authorization: "Bearer linked-token" },
        }),
      ],
      { links: { ...(await stateLinks()), HookflowApiToken: { value: "linked-token" } } },
    );
    const { statusCode, body } = (answer?.result ?? {}) as { statusCode?: number; body?: string };
    expect(statusCode).toBe(200);
    const document = JSON.parse(body ?? "") as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(document.paths)).toContain("/api/runs/{id}");
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(["Run", "ManualRun", "TokenCreated"]),
    );
  });

  it("renders the console's run pages without yaml: only the pipeline page loads it (issue 20)", () => {
    const yaml = (inputs: string[]) => inputs.filter((input) => input.includes("node_modules/yaml/"));
    const pages = bundles.api.inputsLoadedWith("functions/console/pages.tsx");
    expect(pages).toContain("functions/console/pages.tsx");
    expect(yaml(pages)).toEqual([]);
    expect(yaml(bundles.api.startupInputs)).toEqual([]);
    expect(yaml(bundles.api.inputsLoadedWith("node_modules/yaml/dist/index.js")).length).toBeGreaterThan(10);
  });

  it("renders the console's run page, opened from a notification's link, with no AsyncLocalStorage and no hono/jsx (issue 20)", async () => {
    const inputs = bundles.api.inputs.filter((input) => input.includes("node_modules/hono/dist/jsx/"));
    expect(inputs).toEqual([]);
    const system = await testSystem({ runner: new MemoryRunner() });
    await system.stores.runs.saveRun(
      newRun({ id: "console-page", trigger: trigger({ message: "<script>alert(1)</script>" }) }),
    );
    const link = new URL(new ViewGrants(TEST_TOKEN_SECRET, systemClock, 7).link(PUBLIC_URL, "console-page"));
    const page = (path: string) =>
      httpEvent("apigw-v2-powertools", { method: "GET", path, query: link.search.slice(1) });
    // invoke() counts the AsyncLocalStorage runs of the whole process and fails on one.
    const answers = await invoke("api", [page(link.pathname), page(`${link.pathname}/live`)], {
      links: {
        HookflowTable: { name: system.config.HOOKFLOW_TABLE },
        HookflowQueue: { url: system.queues.workUrl },
        HookflowTokenSecret: { value: TEST_TOKEN_SECRET },
        HookflowApiToken: { value: "linked-token" },
      },
    });
    const [run, live] = answers.map((a) => a.result as { statusCode: number; body: string });
    expect(run?.statusCode).toBe(200);
    expect(run?.body).toMatch(/^<!doctype html><html lang="en">/);
    expect(run?.body).toContain('id="task-unit"');
    expect(run?.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(live?.statusCode).toBe(200);
    expect(live?.body).toContain('data-run-status="pending"');
  });

  it("starts no function with Powertools: the first metric point added loads it (issue 20)", () => {
    for (const name of FUNCTION_NAMES)
      expect(
        bundles[name].startupInputs.filter((input) => input.includes("@aws-lambda-powertools")),
        name,
      ).toEqual([]);
  });

  it("builds and starts with only the stores a function's routes use; the webhook writes runs without the engine that reads them (issue 20)", () => {
    for (const name of FUNCTION_NAMES)
      expect(bundles[name].startupInputs.includes("core/adapters/dynamo/task-slots.ts"), name).toBe(
        name === "scheduler" || name === "reconciler",
      );
    const webhook = bundles.webhook.startupInputs;
    expect(webhook).toContain("core/adapters/dynamo/deliveries.ts");
    expect(webhook).toContain("core/adapters/dynamo/run-items.ts");
    for (const module of [
      "core/adapters/dynamo/runs.ts",
      "core/engine/transition.ts",
      "core/engine/reports.ts",
    ])
      expect(webhook, module).not.toContain(module);
    expect(bundles.callback.startupInputs).toContain("core/engine/transition.ts");
  });

  it("leaves out of each function's bundle the adapters loaded on first use that none of its routes calls, and no code that could load one (issue 20)", () => {
    const chunkOf = (name: FunctionName, source: string) => bundles[name].inputsLoadedWith(source);
    for (const name of FUNCTION_NAMES) {
      expect(bundles[name].leftOutButImported, name).toEqual([]);
      const leftOut = (FUNCTIONS[name] as FunctionPlan).notBundled ?? [];
      for (const adapter of Object.keys(ON_DEMAND_ADAPTERS) as OnDemandAdapter[]) {
        const source = ON_DEMAND_ADAPTERS[adapter];
        expect(bundles[name].inputs.includes(source), `${name}: ${adapter}`).toBe(!leftOut.includes(adapter));
      }
    }
    // What the scheduler's route may load stays: its runner, notifiers and log archive.
    expect(chunkOf("scheduler", "core/adapters/kubernetes/index.ts")).toContain(
      "core/adapters/kubernetes/runner.ts",
    );
    expect(chunkOf("scheduler", "core/adapters/notify/index.ts").length).toBeGreaterThan(0);
    expect(chunkOf("scheduler", "core/adapters/s3/log-archive.ts").length).toBeGreaterThan(0);
    // The webhook's start without the S3 client and the REST-XML protocol it brings (the floor's STS client
    // brings the XML reader): what the SDK's barrels put at the start of every bundle that has the log archive.
    const s3 = (input: string) =>
      input.includes("@aws-sdk/client-s3") || input.includes("xml/AwsRestXmlProtocol");
    expect(bundles.webhook.startupInputs.filter(s3)).toEqual([]);
    expect(bundles.scheduler.startupInputs.filter(s3).length).toBeGreaterThan(0);
  });

  it("starts no function with the git hosts' API clients: the first call to a host loads them (issue 20)", () => {
    const clients = (inputs: string[]) =>
      inputs.filter(
        (input) => input.startsWith("core/adapters/git-api/") && !input.endsWith("/pull-requests.ts"),
      );
    for (const name of FUNCTION_NAMES) expect(clients(bundles[name].startupInputs), name).toEqual([]);
    expect(bundles.webhook.inputsLoadedWith("core/adapters/git-api/index.ts")).toContain(
      "core/adapters/git-api/github.ts",
    );
  });

  it("starts only the reconciler with croner, which evaluates schedules on its tick; the others load it with a schedule to check (issue 20)", () => {
    const croner = (inputs: string[]) => inputs.filter((input) => input.includes("node_modules/croner/"));
    for (const name of FUNCTION_NAMES)
      expect(croner(bundles[name].startupInputs).length > 0, name).toBe(name === "reconciler");
    // Where a pipeline is validated, croner comes with the cron check, loaded when a schedule is met.
    expect(croner(bundles.api.inputsLoadedWith("core/model/cron.ts")).length).toBeGreaterThan(0);
  });

  it("imports node:http and node:net as ES modules in none of hookflow's modules a function bundles: their namespaces load code (issue 20)", () => {
    // A type import is not loaded; the modules themselves come from core/adapters/node-builtins.ts.
    const loadsBuiltin =
      /\bimport\s+(?!type\b)[^;]*?\bfrom\s+"node:(?:http|net)"|\bimport\(\s*"node:(?:http|net)"\s*\)/;
    for (const name of FUNCTION_NAMES) {
      const own = bundles[name].inputs.filter((input) => !input.includes("node_modules/"));
      expect(
        own.filter((input) => loadsBuiltin.test(readFileSync(join(ROOT, input), "utf8"))),
        name,
      ).toEqual([]);
    }
    expect(loadsBuiltin.test('import { request } from "node:http";')).toBe(true);
    expect(loadsBuiltin.test('import { isIP, type Socket } from "node:net";')).toBe(true);
    expect(loadsBuiltin.test('import type { IncomingMessage } from "node:http";')).toBe(false);
  });

  it("bundles zod/mini and not classic zod, in no function (issue 20)", () => {
    const classic = (inputs: string[]) =>
      inputs.filter((input) => input.includes("node_modules/zod/v4/classic/"));
    for (const name of FUNCTION_NAMES) {
      expect(
        bundles[name].startupInputs.filter((input) => input.includes("node_modules/zod/v4/mini/")),
        name,
      ).not.toEqual([]);
      expect(classic(bundles[name].inputs), name).toEqual([]);
    }
  });

  it("loads @kubernetes/client-node in no cold start, nor with the scheduler's Kubernetes runner: only on its first use", () => {
    const clientNode = (inputs: string[]) =>
      inputs.filter((input) => input.includes("node_modules/@kubernetes/client-node/"));
    for (const name of FUNCTION_NAMES) {
      expect(bundles[name].startupInputs.length, name).toBeGreaterThan(0);
      expect(clientNode(bundles[name].startupInputs), name).toEqual([]);
    }
    // What a scheduler loads to submit a Job: the runner and its built-in client, not client-node...
    const runner = bundles.scheduler.inputsLoadedWith("core/adapters/kubernetes/index.ts");
    expect(runner).toContain("core/adapters/kubernetes/http-client.ts");
    expect(clientNode(runner)).toEqual([]);
    // ...which is loaded with its adapter, for credentials only it takes (connect.ts).
    const fallback = bundles.scheduler.inputsLoadedWith("core/adapters/kubernetes/client.ts");
    expect(clientNode(fallback).length).toBeGreaterThan(100);
  });

  it("answers API Gateway requests, configured only by SST's encrypted links", async () => {
    const links = { ...(await stateLinks()), HookflowApiToken: { value: "linked-token" } };
    const get = (sample: "apigw-v2-powertools" | "apigw-v2-aws-lambda-go", token: string) =>
      httpEvent(sample, {
        method: "GET",
        path: "/api/pipelines",
        headers: { authorization: `Bearer ${token}` },
      });
    const answers = await invoke(
      "api",
      [
        get("apigw-v2-powertools", "linked-token"),
        get("apigw-v2-aws-lambda-go", "linked-token"),
        get("apigw-v2-powertools", "wrong"),
      ],
      { links },
    );
    const [powertools, lambdaGo, refused] = answers.map(
      (a) => a.result as { statusCode: number; body: string },
    );
    expect(powertools?.statusCode).toBe(200);
    expect(JSON.parse(powertools?.body ?? "{}")).toEqual({ items: [] });
    expect(lambdaGo?.statusCode).toBe(200);
    expect(refused?.statusCode).toBe(401);
  });

  it("reports bad settings at start under the error's own name, every problem in the message", async () => {
    const { HookflowTable } = await stateLinks();
    const [answer] = await invoke(
      "webhook",
      [httpEvent("apigw-v2-powertools", { method: "POST", path: "/webhooks/github", body: "{}" })],
      {
        links: { HookflowTable, HookflowQueue: { url: "not a url" } },
        env: { HOOKFLOW_NAMESPACE: "Not_A_Namespace" },
      },
    );
    expect(answer?.errorType).toBe("ValidationError");
    expect(answer?.errorMessage).toMatch(/^invalid configuration\n/);
    expect(answer?.errorMessage).toMatch(/^HOOKFLOW_QUEUE_URL: /m);
    expect(answer?.errorMessage).toMatch(/^HOOKFLOW_NAMESPACE: /m);
  });

  describe("the scheduler's kubeconfig", () => {
    const schedulerSettings = async (kubeconfig: string, env: Record<string, string> = {}) => ({
      links: {
        ...(await stateLinks()),
        HookflowTokenSecret: { value: TEST_TOKEN_SECRET },
        HookflowApi: { url: PUBLIC_URL },
        HookflowKubeconfig: { value: kubeconfig },
        HookflowLogs: { name: "hookflow-logs" },
      },
      env: { ...FUNCTIONS.scheduler.environment, ...env },
    });
    const batch = () => [lambdaFixture("sqs-fifo-lambda-guide")];

    it("starts with a readable one: the guide's FIFO record, not a work message, fails on its own", async () => {
      const fake = await startFakeKubernetes();
      onTestFinished(() => fake.close());
      const [answer] = await invoke("scheduler", batch(), await schedulerSettings(fake.kubeconfig));
      expect(answer?.result).toEqual({
        batchItemFailures: [{ itemIdentifier: "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5" }],
      });
    });

    it("writes what an invocation measured as EMF on Lambda, Powertools loaded by its first point", async () => {
      const fake = await startFakeKubernetes();
      onTestFinished(() => fake.close());
      const settings = await schedulerSettings(fake.kubeconfig, { AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001" });
      const answers = await invoke("scheduler", batch(), settings);
      const emf = answers.output
        .split("\n")
        .filter((line) => line.includes('"_aws"'))
        .map((line) => JSON.parse(line) as { QueueAge?: number; _aws: { CloudWatchMetrics: unknown[] } });
      expect(emf).toHaveLength(1);
      expect(emf[0]?.QueueAge).toBeGreaterThan(0);
    });

    it.each([
      ["empty", "", /^HOOKFLOW_KUBECONFIG: the Kubernetes runner needs a kubeconfig and this is empty/m],
      [
        "not YAML",
        "clusters: [",
        /^HOOKFLOW_KUBECONFIG: is not a kubeconfig the Kubernetes client can read/m,
      ],
      [
        "without a cluster",
        "apiVersion: v1\nkind: Config\n",
        /^HOOKFLOW_KUBECONFIG: names no cluster with a server/m,
      ],
    ])(
      "refuses to start with a kubeconfig that is %s, naming HOOKFLOW_KUBECONFIG",
      async (_, kubeconfig, problem) => {
        const answers = await invoke(
          "scheduler",
          [...batch(), ...batch()],
          await schedulerSettings(kubeconfig),
        );
        expect(answers).toHaveLength(2);
        for (const answer of answers) {
          expect(answer.errorType).toBe("ValidationError");
          expect(answer.errorMessage).toMatch(problem);
        }
      },
    );

    it("names the setting whose SST link is broken", async () => {
      const fake = await startFakeKubernetes();
      onTestFinished(() => fake.close());
      const [answer] = await invoke(
        "scheduler",
        batch(),
        await schedulerSettings(fake.kubeconfig, {
          SST_RESOURCE_HookflowKubeconfig: '{"value": "apiVersion',
        }),
      );
      expect(answer?.errorType).toBe("ValidationError");
      expect(answer?.errorMessage).toMatch(
        /^HOOKFLOW_KUBECONFIG: its SST link SST_RESOURCE_HookflowKubeconfig is not JSON/m,
      );
    });
  });

  it("answers a webhook larger than Lambda carries with a 413 saying the limit, and takes one within it", async () => {
    const links = { ...(await stateLinks()), HookflowGithubSecret: { value: SECRETS.github } };
    const delivery = (deliveryId: string, padding: string) => {
      const request = signedWebhookRequest(
        "github",
        { ...webhookFixture("github-push"), padding },
        {
          secret: SECRETS.github,
          deliveryId,
        },
      );
      return httpEvent("apigw-v2-powertools", {
        method: "POST",
        path: "/webhooks/github",
        headers: request.headers,
        body: request.body,
      });
    };
    // Quotes: 2 bytes each in the raw JSON (\"), 4 once the body is itself a JSON string in the event.
    const quotes = '"'.repeat(WEBHOOK_BODY_LIMITS.lambda / 3);
    const [within, tooLarge] = await invoke("webhook", [delivery("small", "x"), delivery("quoted", quotes)], {
      links,
    });
    const small = within?.result as { statusCode: number; body: string };
    expect(small.statusCode).toBe(200);
    expect(JSON.parse(small.body)).toMatchObject({ delivery: "small" });

    const refused = tooLarge?.result as { statusCode: number; body: string };
    expect(Buffer.byteLength(JSON.stringify({ padding: quotes }))).toBeLessThan(WEBHOOK_BODY_LIMITS.lambda);
    expect(refused.statusCode).toBe(413);
    expect(JSON.parse(refused.body)).toEqual({
      error: `deliveries are at most ${WEBHOOK_BODY_LIMITS.lambda} bytes as Lambda receives them (the body JSON-escaped)`,
    });
  });

  describe("a task's log, read from the cluster", () => {
    const line = `${"\u0001".repeat(1023)}\n`;
    const log = `first\n${line.repeat((2 * LIMITS.logBytes) / line.length)}last\n`;
    let fake: FakeKubernetes;
    let runId: string;
    let state: Record<string, Record<string, string>>;
    beforeAll(async () => {
      fake = await startFakeKubernetes({
        startDelayMs: 0,
        autoCompleteDelayMs: 0,
        autoComplete: () => ({ log }),
      });
      const system = await testSystem({
        runner: await createKubernetesRunner({ kubeconfig: fake.kubeconfig, namespace: "default" }),
      });
      await system.api.definitions.putPipeline(
        "noisy",
        `name: noisy
triggers: [{ provider: github, repository: acme/noisy }]
stages:
  - name: talk
    tasks:
      - name: talk
        run: { image: alpine, command: ["true"] }
`,
      );
      runId = (await system.api.runs.start("noisy", { commit: "a".repeat(40) }, BOOTSTRAP_TOKEN)).id;
      expect((await driveRun(system, runId, { timeoutMs: 45_000 })).status).toBe("succeeded");
      state = {
        HookflowTable: { name: system.config.HOOKFLOW_TABLE },
        HookflowQueue: { url: system.config.HOOKFLOW_QUEUE_URL ?? "" },
        HookflowApiToken: { value: "linked-token" },
        HookflowTokenSecret: { value: TEST_TOKEN_SECRET },
        HookflowLogs: { name: system.bucket },
      };
    }, 60_000);
    afterAll(() => fake?.close());

    const get = (path: string) =>
      httpEvent("apigw-v2-powertools", {
        method: "GET",
        path,
        headers: { authorization: "Bearer linked-token" },
      });

    it("answers a log of control characters within Lambda's 6 MiB answer, its newest lines", async () => {
      const [answer] = await invoke("api", [get(`/api/runs/${runId}/tasks/talk/logs`)], {
        links: { ...state, HookflowKubeconfig: { value: fake.kubeconfig } },
        env: FUNCTIONS.api.environment,
      });
      const result = answer?.result as { statusCode: number; body: string };
      expect(result.statusCode).toBe(200);
      expect(answer?.bytes).toBeLessThanOrEqual(LAMBDA_PAYLOAD_BYTES);
      expect(result.body).toMatch(LOG_CUT_NOTICE);
      expect(result.body.endsWith(`${line.repeat(100)}last\n`)).toBe(true);
    });

    it("reads an ended attempt's log from the log bucket, with no need of the cluster", async () => {
      const [answer] = await invoke("api", [get(`/api/runs/${runId}/tasks/talk/logs?tail=1`)], {
        links: { ...state, HookflowKubeconfig: { value: "clusters: [" } },
        env: FUNCTIONS.api.environment,
      });
      const result = answer?.result as { statusCode: number; body: string };
      expect(result.statusCode).toBe(200);
      expect(result.body).toBe("last\n");
    });

    it("answers 500 for a log when the API's kubeconfig cannot be read, logging the setting; the rest answers", async () => {
      // An empty bucket: the log is not archived, so the API reads it from the cluster.
      const empty = await freshBucket();
      const answers = await invoke(
        "api",
        [get(`/api/runs/${runId}/tasks/talk/logs`), get(`/api/runs/${runId}`)],
        {
          links: { ...state, HookflowLogs: { name: empty }, HookflowKubeconfig: { value: "clusters: [" } },
          env: FUNCTIONS.api.environment,
        },
      );
      const [logs, view] = answers.map((a) => a.result as { statusCode: number; body: string });
      expect(logs?.statusCode).toBe(500);
      expect(JSON.parse(logs?.body ?? "{}")).toEqual({ error: "internal error" });
      expect(answers.output).toMatch(
        /HOOKFLOW_KUBECONFIG: is not a kubeconfig the Kubernetes client can read/,
      );
      // The error handler's line names the request's run and task, as every line about them does.
      const failed = answers.output
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.message === "request failed");
      expect(failed).toMatchObject({
        level: "error",
        runId,
        task: "talk",
        path: `/api/runs/${runId}/tasks/talk/logs`,
      });
      expect(view?.statusCode).toBe(200);
    });
  });

  /**
   * The function URL sample event, addressed to a path: what Jobs send when given the callback function's URL. The
   * sample's `<url-id>` placeholder becomes an id of the form Lambda gives (32 lowercase letters and digits): a URL
   * cannot be made from a host with `<` in it.
   */
  function functionUrlEvent(request: {
    method: string;
    path: string;
    headers: Record<string, string>;
    body: string;
  }) {
    const event = lambdaFixture("function-url-powertools") as {
      headers: Record<string, string>;
      requestContext: { http: Record<string, string> } & Record<string, unknown>;
    } & Record<string, unknown>;
    const urlId = "abcdefghijklmnopqrstuvwxyz012345";
    const host = `${urlId}.lambda-url.us-east-1.on.aws`;
    return {
      ...event,
      rawPath: request.path,
      headers: {
        ...event.headers,
        ...request.headers,
        host,
        "content-length": String(Buffer.byteLength(request.body)),
      },
      requestContext: {
        ...event.requestContext,
        apiId: urlId,
        domainName: host,
        domainPrefix: urlId,
        http: { ...event.requestContext.http, method: request.method, path: request.path },
      },
      body: request.body,
    };
  }

  it("answers a task's callback the same through its function URL as through API Gateway", async () => {
    const runner = new MemoryRunner();
    const system = await testSystem({ runner });
    await system.stores.runs.saveRun(newRun({ id: "furl" }));
    await system.service.apply("furl", [{ type: "run.created" }]);
    const launch = runner.launchesOf("unit")[0];
    const path = new URL(launch?.env.HOOKFLOW_CALLBACK_URL ?? "http://missing").pathname;
    const token = launch?.secretEnv.HOOKFLOW_TASK_TOKEN ?? "";
    const request = (bearer: string) => ({
      method: "POST",
      path,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ status: "running" }),
    });
    const answers = await invoke(
      "callback",
      [
        httpEvent("apigw-v2-powertools", request(token)),
        functionUrlEvent(request(token)),
        httpEvent("apigw-v2-powertools", request(`${token}x`)),
        functionUrlEvent(request(`${token}x`)),
        functionUrlEvent({ ...request(token), path: "/api/pipelines" }),
      ],
      {
        links: {
          HookflowTable: { name: system.config.HOOKFLOW_TABLE },
          HookflowQueue: { url: system.queues.workUrl },
          HookflowTokenSecret: { value: TEST_TOKEN_SECRET },
        },
      },
    );
    const [gateway, functionUrl, gatewayRefused, functionUrlRefused, notHere] = answers.map(
      (a) => a.result as { statusCode: number; body: string },
    );
    expect(gateway?.statusCode).toBe(200);
    expect(functionUrl?.statusCode).toBe(200);
    expect(JSON.parse(functionUrl?.body ?? "{}")).toEqual(JSON.parse(gateway?.body ?? "{}"));
    expect(gatewayRefused?.statusCode).toBe(403);
    expect(functionUrlRefused?.statusCode).toBe(403);
    expect(functionUrlRefused?.body).toBe(gatewayRefused?.body);
    // Only the callback routes answer there: the API stays behind API Gateway.
    expect(notHere?.statusCode).toBe(404);
    const run = await system.stores.runs.getRun("furl");
    expect(run && taskState(run, "unit").status).toBe("running");
  });

  it("reconciles on the scheduled event", async () => {
    const [answer] = await invoke("reconciler", [lambdaFixture("scheduled-event")], {
      links: await stateLinks(),
    });
    expect(answer?.result).toEqual({ reconciled: 0, scheduled: 0 });
  });

  it("turns a due wake-up from the wake-up queue into a reconcile of its run on the work queue", async () => {
    const { table, stores } = await freshStore();
    // A run whose task is out there, submitted and not watched by the relay: the wake-up finds a look due.
    const run = newRun({ id: "r1", pipeline: pipeline({ stages: [{ name: "s", tasks: [runTask("t")] }] }) });
    Object.assign(run, { status: "running", startedAt: "2025-12-31T23:59:59.000Z" });
    Object.assign(taskState(run, "t"), {
      status: "running",
      attempt: 1,
      jobName: "r1-t-1",
      submittedAt: "2025-12-31T23:59:59.000Z",
    });
    await stores.runs.saveRun(run);
    const { workUrl, queue } = await freshQueue();
    const wakeUrl = await ensureWakeQueue(sqsClient(), `hookflow-wake-${randomBytes(4).toString("hex")}`, {
      visibilityTimeoutSeconds: 30,
    });
    const sample = lambdaFixture("sqs-fifo-lambda-guide") as { Records: Array<Record<string, unknown>> };
    const wakeUp = { runId: "r1", at: "2026-01-01T00:00:00.000Z", reason: "observe" };
    const event = { Records: sample.Records.map((r) => ({ ...r, body: JSON.stringify(wakeUp) })) };
    const [answer] = await invoke("wakeUps", [event], {
      links: {
        HookflowTable: { name: table },
        HookflowQueue: { url: workUrl },
        HookflowWakeQueue: { url: wakeUrl },
      },
    });
    expect(answer?.result).toEqual({ batchItemFailures: [] });
    const received = await queue.receive({ waitSeconds: 1 });
    expect(received.map((m) => JSON.parse(m.Body ?? "{}"))).toEqual([
      { runId: "r1", event: { type: "reconcile" } },
    ]);
  });
});
