/**
 * cold-start: every function, from process spawn to the first answered request on its main route.
 *
 * Each function is bundled as `npm run bundle` and SST bundle it (infra/bundle.ts: esbuild, ESM, minified, split,
 * names kept), and run as Lambda runs it: a fresh node process per sample runs bench/lambda-harness.mjs, which
 * imports the bundle, invokes its `handler` once with an event built from the AWS samples in
 * test/fixtures/lambda/ (API Gateway HTTP API 2.0, SQS FIFO, EventBridge schedule) and prints the answer. Its
 * settings come as on AWS: SST links encrypted into a file (SST_KEY, SST_KEY_FILE), the plain environment of
 * infra/functions.ts. The time is taken in this process, from just before the spawn to the answer's line on the
 * child's stdout: node's own start, the import, building the function's wiring, and the main route's work
 * against DynamoDB Local, the SQS emulator, s3rver and the fake Kubernetes API server. Every answer is checked:
 * a sample whose answer is not its route's success stops the bench.
 *
 * The floor (bench/floors/hono-sdk.ts) is Hono with the DynamoDB and SQS clients answering a request with one
 * strongly consistent GetItem, one conditional PutItem and one SendMessage to the FIFO queue, measured the same
 * way in the same rounds. Processes run round-robin over the entries, so that machine noise spreads evenly; each
 * row's clock and CPU are also given paired, as the median of its samples over the floor's of the same round.
 *
 *   node --import tsx bench/cold-start.ts   (BENCH_ROUNDS, default 30; BENCH_CPU_PROF=dir for profiles; BENCH_ONLY=a,b;
 *                                            BENCH_CALLGRIND=1 to count instructions; BENCH_TLS=0 for plain http;
 *                                            BENCH_TRACE=1 for each row's requests and round trips)
 */
import { spawn } from "node:child_process";
import { createCipheriv, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { signGithub } from "../core/adapters/git/index.js";
import { USER_AGENT } from "../core/adapters/kubernetes/http-client.js";
import { ensureWakeQueue } from "../core/adapters/sqs/wake-ups.js";
import { systemClock } from "../core/adapters/system.js";
import { callbackTaskId, createRun } from "../core/engine/index.js";
import { LIMITS, Pipeline, type Run } from "../core/model/index.js";
import { TaskTokens } from "../core/services/tokens.js";
import { ViewGrants } from "../core/services/view-grants.js";
import { schedulerDeps } from "../core/wiring.js";
import { type Bundle, bundleEntry, bundleFunction } from "../infra/bundle.js";
import { FUNCTIONS, ROUTES } from "../infra/functions.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../infra/local/emulators.js";
import { startFakeKubernetes } from "../test/fake-kubernetes/index.js";
import { MemoryRunner } from "../test/helpers/memory-runner.js";
import { benchSystem, githubPushBody, percentile, startEmulators, table } from "./common.js";
import { routeShape, type TracedRequest } from "./route-shape.js";
import { TLS_PROXY_CA_FILE, tlsProxy } from "./tls-proxy.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
/** A directory: every sample also writes a V8 CPU profile there (`node --cpu-prof`), to see where the time goes. */
const CPU_PROFILES = process.env.BENCH_CPU_PROF;
/**
 * Every sample also runs under valgrind's callgrind, which counts the instructions the process executes (every
 * thread, spawn to exit): a measure the machine's other work does not move, to compare two versions of a row.
 * About 40 times slower; the times it shows are not to be read.
 */
const CALLGRIND = process.env.BENCH_CALLGRIND === "1";
/**
 * Every sample also times its HTTP requests (bench/request-trace.mjs, loaded before the harness), and a second table
 * gives each row's requests, the round trips one after another among them, and where its route's time went. The
 * tracer's own load is in every row's times then, the floor's too.
 */
const TRACE = process.env.BENCH_TRACE === "1";
/** Only these rows (comma-separated names) besides the floor, to look at one function. */
const ONLY = process.env.BENCH_ONLY?.split(",");
/**
 * Every function and the floor reach DynamoDB, SQS and S3 over TLS, as they do on AWS (every AWS endpoint is https),
 * each emulator behind a TLS proxy (bench/tls-proxy.ts). BENCH_TLS=0: plain http to the emulators, which leaves the
 * handshakes and the root certificate store out of every row.
 */
const TLS_TO_AWS = process.env.BENCH_TLS !== "0";
const ROOT = join(import.meta.dirname, "..");
const HARNESS = join(import.meta.dirname, "lambda-harness.mjs");
const REQUEST_TRACE = join(import.meta.dirname, "request-trace.mjs");
const FLOOR = "floor: hono + sdk";
const TOKEN_SECRET = "bench-token-secret-0123456789";
const API_TOKEN = "bench-api-token";
const GITHUB_SECRET = "bench-github-secret";

type Links = Record<string, Record<string, string>>;
type Answer = { result?: unknown; errorType?: string; errorMessage?: string };

/** One row: a bundle, what it is given, the event of each sample, and what its main route's success looks like. */
interface Entry {
  name: string;
  bundle: () => Promise<Bundle>;
  links: Links;
  env?: Record<string, string>;
  /** The event of one sample; each sample gets fresh state where its route changes state. */
  event: (sample: number) => Promise<unknown>;
  /** Why the answer is not the route's success, or undefined. */
  problem: (answer: Answer, sample: number) => string | undefined;
}

const lambdaFixture = <T>(name: string): T =>
  JSON.parse(readFileSync(join(ROOT, "test/fixtures/lambda", `${name}.json`), "utf8")) as T;

/** The API Gateway HTTP API sample (payload 2.0), addressed to a route as API Gateway would address it. */
function httpEvent(request: {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}) {
  type Sample = Record<string, unknown> & {
    headers: Record<string, string>;
    requestContext: Record<string, unknown> & { http: Record<string, string> };
  };
  const sample = lambdaFixture<Sample>("apigw-v2-powertools");
  const routeKey =
    Object.keys(ROUTES).find((route) => {
      const [method = "", pattern = ""] = route.split(" ");
      const regex = new RegExp(`^${pattern.replace(/\{[^}]+\+\}/g, ".+").replace(/\{[^}]+\}/g, "[^/]+")}$`);
      return (method === "ANY" || method === request.method) && regex.test(request.path);
    }) ?? `${request.method} ${request.path}`;
  return {
    ...sample,
    routeKey,
    rawPath: request.path,
    rawQueryString: new URLSearchParams(request.query).toString(),
    ...(request.query && { queryStringParameters: request.query }),
    headers: {
      ...sample.headers,
      ...request.headers,
      "content-length": String(Buffer.byteLength(request.body ?? "")),
    },
    requestContext: {
      ...sample.requestContext,
      routeKey,
      http: { ...sample.requestContext.http, method: request.method, path: request.path },
    },
    ...(request.body !== undefined && { body: request.body }),
  };
}

/** The SQS FIFO sample with one record carrying `body` in message group `group`. */
function sqsEvent(body: unknown, group: string) {
  type Sample = { Records: Array<Record<string, unknown> & { attributes: Record<string, string> }> };
  const [record] = lambdaFixture<Sample>("sqs-fifo-lambda-guide").Records;
  if (!record) throw new Error("the SQS sample has no record");
  return {
    Records: [
      {
        ...record,
        messageId: randomBytes(16).toString("hex"),
        body: JSON.stringify(body),
        attributes: { ...record.attributes, MessageGroupId: group },
      },
    ],
  };
}

const statusOf = (answer: Answer) => (answer.result as { statusCode?: number } | undefined)?.statusCode;
const httpProblem = (expected: number) => (answer: Answer) =>
  statusOf(answer) === expected
    ? undefined
    : `expected ${expected}, got ${JSON.stringify(answer).slice(0, 400)}`;
const batchProblem = (answer: Answer) =>
  JSON.stringify(answer.result) === JSON.stringify({ batchItemFailures: [] })
    ? undefined
    : `expected no failed record, got ${JSON.stringify(answer).slice(0, 400)}`;

// Nothing here ends an attempt, so each keeps its pipeline slot (maxRunningTasks): room for every sample's, the
// callback's runs and both scheduler rows'.
if (3 * ROUNDS > LIMITS.tasksPerPipeline)
  throw new Error(
    `BENCH_ROUNDS is at most ${Math.floor(LIMITS.tasksPerPipeline / 3)}: each sample's task keeps its slot`,
  );
const pipeline = Pipeline.parse({
  name: "web",
  maxRunningTasks: LIMITS.tasksPerPipeline,
  triggers: [{ provider: "github", repository: "acme/web-app", branches: ["main"] }],
  stages: [
    { name: "build", tasks: [{ name: "build", run: { image: "node:22", command: ["npm", "test"] } }] },
  ],
});
const trigger = {
  provider: "github" as const,
  event: "push" as const,
  repository: "acme/web-app",
  cloneUrl: "https://github.com/acme/web-app.git",
  ref: "refs/heads/main",
  branch: "main",
  message: "Change",
  author: "alice",
};

function push(sample: number): string {
  return githubPushBody("acme/web-app", sample, { added: [`src/file${sample}.ts`], modified: [] });
}

/** Spawns the harness and resolves at the answer's line: [ms from spawn, the answer]. */
function coldStart(entry: Entry, bundle: Bundle, eventFile: string, env: NodeJS.ProcessEnv) {
  return new Promise<{
    ms: number;
    answer: Answer & { importedMs: number; answeredMs: number; importCpuMs: number; answerCpuMs: number };
    instructions?: number;
    requests?: TracedRequest[];
  }>((resolve, reject) => {
    const started = performance.now();
    const profile = CPU_PROFILES
      ? ["--cpu-prof", `--cpu-prof-dir=${join(CPU_PROFILES, entry.name.replace(/\W+/g, "-"))}`]
      : [];
    const [command = process.execPath, ...wrapper] = CALLGRIND
      ? [
          "valgrind",
          "--tool=callgrind",
          "--smc-check=all-non-file",
          "--callgrind-out-file=/dev/null",
          process.execPath,
        ]
      : [process.execPath];
    const trace = TRACE ? ["--import", REQUEST_TRACE] : [];
    const child = spawn(
      command,
      [...wrapper, ...profile, ...trace, HARNESS, bundle.entry, eventFile, entry.name],
      {
        env,
        stdio: ["ignore", "ignore", "pipe", "pipe"],
      },
    );
    const answers = child.stdio[3] as NodeJS.ReadableStream;
    let out = "";
    let err = "";
    let answered: number | undefined;
    answers.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (answered === undefined && out.includes("\n")) answered = performance.now();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (answered === undefined)
        return reject(new Error(`${entry.name}: no answer (exit ${code}): ${err.slice(0, 2000)}`));
      const counted = /Collected : (\d+)/.exec(err)?.[1];
      const traced = /^request-trace (.*)$/m.exec(err)?.[1];
      resolve({
        ms: answered - started,
        answer: JSON.parse(out.slice(0, out.indexOf("\n"))),
        ...(counted && { instructions: Number(counted) }),
        ...(traced && { requests: JSON.parse(traced) as TracedRequest[] }),
      });
    });
  });
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const outRoot = mkdtempSync(join(tmpdir(), "hookflow-cold-start-"));
const emulators = await startEmulators();
// What the functions are given for each emulator: itself, or a TLS proxy in front of it.
const proxies = TLS_TO_AWS
  ? await Promise.all(
      [emulators.dynamo.endpoint, emulators.sqs.endpoint, emulators.s3.endpoint].map(async (plain) => ({
        plain,
        proxy: await tlsProxy(plain),
      })),
    )
  : [];
/** A setting's text as the functions see it: each emulator's address replaced by its proxy's. */
const overTls = (text: string) =>
  proxies.reduce((out, { plain, proxy }) => out.replaceAll(plain, proxy.url), text);
const kubernetes = await startFakeKubernetes({ namespace: "default" });
/**
 * The cluster's kubeconfig as the README's deploy stores it in HookflowKubeconfig (`kubectl config view --raw
 * -o json`): JSON, which the scheduler and the API read without loading a YAML parser.
 */
const kubeconfigAsDeployed = JSON.stringify(parse(kubernetes.kubeconfig));
// An EKS cluster as the README recommends for Lambda: over TLS, signed in to with a token of the function's role.
const EKS = { cluster: "bench-cluster", region: LOCAL_REGION };
const eks = await startFakeKubernetes({
  namespace: "default",
  tls: true,
  eks: { ...EKS, credentials: LOCAL_CREDENTIALS, username: "hookflow-scheduler", groups: [] },
});
try {
  // Each side gets a table, queue and bucket of its own; the reconciler one with exactly one active run, so
  // that every sample of it does the same work (one Query of the active runs, one message, the schedules' read).
  const main = await benchSystem(emulators, "bench-cold", {}, { HOOKFLOW_TOKEN_SECRET: TOKEN_SECRET });
  const quiet = await benchSystem(emulators, "bench-cold-reconciler");
  const wakeUrl = await ensureWakeQueue(main.sqs, "bench-cold-wake", { visibilityTimeoutSeconds: 30 });
  const now = new Date().toISOString();
  await main.base.stores.definitions.putPipeline(pipeline, now);
  await quiet.base.stores.definitions.putPipeline(pipeline, now);
  const newRun = (): Run =>
    createRun({
      id: randomBytes(10).toString("hex"),
      pipeline,
      jobs: {},
      // As a push's run has it.
      trigger: { ...trigger, commit: randomBytes(20).toString("hex"), deliveryId: randomUUID() },
      now: new Date().toISOString(),
    });
  const stored = async (system: typeof main, run: Run) => {
    await system.base.stores.deliveries.createRuns([run]);
    return run;
  };
  const shown = await stored(main, newRun());
  await stored(quiet, newRun());
  // Callbacks report on an attempt the scheduler has submitted (to a runner held in memory, here in this process).
  const submitting = await schedulerDeps(main.base, {
    runner: new MemoryRunner(),
    s3Client: main.clients.s3Client,
  });
  const tokens = new TaskTokens(TOKEN_SECRET);
  const grants = new ViewGrants(TOKEN_SECRET, systemClock, 1);
  const grant = (runId: string) =>
    new URL(grants.link("https://hookflow.example.com", runId)).searchParams.get("grant") ?? "";
  const queuedRun = async () => {
    const run = await stored(main, newRun());
    await submitting.scheduler.handle({ runId: run.id, event: { type: "run.created" } });
    return run;
  };

  let schedulerBundle: Promise<Bundle> | undefined;
  const scheduler = () => (schedulerBundle ??= bundleFunction("scheduler", outRoot));
  const state = { HookflowTable: { name: "bench-cold" }, HookflowQueue: { url: main.queues.workUrl } };
  // The scheduler's links but its cluster's (a kubeconfig, or none on EKS).
  const schedulerLinks = {
    ...state,
    HookflowWakeQueue: { url: wakeUrl },
    HookflowApi: { url: "https://hookflow.example.com" },
    HookflowTokenSecret: { value: TOKEN_SECRET },
    HookflowLogs: { name: "bench-cold" },
  };
  const http = (request: Parameters<typeof httpEvent>[0]) => async () => httpEvent(request);
  // A run as the API shows it, read with the bootstrap token.
  const api: Entry = {
    name: "api",
    bundle: () => bundleFunction("api", outRoot),
    links: {
      ...state,
      HookflowApiToken: { value: API_TOKEN },
      HookflowTokenSecret: { value: TOKEN_SECRET },
      HookflowKubeconfig: { value: kubeconfigAsDeployed },
      HookflowLogs: { name: "bench-cold" },
    },
    env: { ...FUNCTIONS.api.environment },
    event: http({
      method: "GET",
      path: `/api/runs/${shown.id}`,
      headers: { authorization: `Bearer ${API_TOKEN}` },
    }),
    problem: (answer) =>
      httpProblem(200)(answer) ??
      (String((answer.result as { body?: string }).body).includes(shown.id)
        ? undefined
        : "not the run asked for"),
  };
  const entries: Entry[] = [
    {
      name: FLOOR,
      bundle: () =>
        bundleEntry(FLOOR, join(import.meta.dirname, "floors/hono-sdk.ts"), join(outRoot, "floor")),
      links: {},
      env: { FLOOR_TABLE: "bench-cold", FLOOR_QUEUE_URL: main.queues.workUrl },
      event: async (sample) =>
        httpEvent({
          method: "POST",
          path: "/floor",
          body: JSON.stringify({ id: `s${sample}-${randomBytes(6).toString("hex")}` }),
        }),
      problem: httpProblem(202),
    },
    {
      // A signed push that starts the pipeline: verify, match, claim the body, store the run, queue it.
      name: "webhook",
      bundle: () => bundleFunction("webhook", outRoot),
      links: { ...state, HookflowGithubSecret: { value: GITHUB_SECRET } },
      event: async (sample) => {
        const body = push(sample);
        return httpEvent({
          method: "POST",
          path: "/webhooks/github",
          headers: {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": randomBytes(16).toString("hex"),
            "x-hub-signature-256": signGithub(body, GITHUB_SECRET),
          },
          body,
        });
      },
      problem: httpProblem(202),
    },
    {
      // A task's report that it succeeded, with its attempt's token: recorded, and the run's message queued.
      name: "callback",
      bundle: () => bundleFunction("callback", outRoot),
      links: { ...state, HookflowTokenSecret: { value: TOKEN_SECRET } },
      event: async () => {
        const run = await queuedRun();
        const attempt = { runId: run.id, task: "build", attempt: 1 };
        return httpEvent({
          method: "POST",
          path: `/callbacks/tasks/${callbackTaskId(run.id, "build", 1)}`,
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${tokens.tokenFor(attempt)}`,
          },
          body: JSON.stringify({ status: "succeeded", outputs: { IMAGE_TAG: "v1" } }),
        });
      },
      problem: httpProblem(200),
    },
    api,
    // The console's run page (served by the api function), opened from the link a notification carries.
    {
      ...api,
      name: "console",
      event: http({ method: "GET", path: `/runs/${shown.id}`, query: { grant: grant(shown.id) } }),
    },
    {
      // A push's new run, its first message: load it, submit its first task's Job to the cluster, save, ask for a
      // follow-up.
      // The cluster from a kubeconfig (HOOKFLOW_KUBECONFIG) with a token.
      name: "scheduler",
      bundle: scheduler,
      links: { ...schedulerLinks, HookflowKubeconfig: { value: kubeconfigAsDeployed } },
      env: { ...FUNCTIONS.scheduler.environment },
      event: async () => {
        const run = await stored(main, newRun());
        return sqsEvent({ runId: run.id, event: { type: "run.created" } }, run.id);
      },
      problem: batchProblem,
    },
    {
      // The same on EKS: its endpoint and CA (HOOKFLOW_EKS_*), an EKS token signed with the function's role.
      name: "scheduler (EKS)",
      bundle: scheduler,
      links: schedulerLinks,
      env: {
        ...FUNCTIONS.scheduler.environment,
        HOOKFLOW_EKS_CLUSTER: EKS.cluster,
        HOOKFLOW_EKS_ENDPOINT: eks.url,
        HOOKFLOW_EKS_CA_DATA: eks.caData,
      },
      event: async () => {
        const run = await stored(main, newRun());
        return sqsEvent({ runId: run.id, event: { type: "run.created" } }, run.id);
      },
      problem: batchProblem,
    },
    {
      // The minute's tick: a reconcile message for the one active run, then the schedules owed (none).
      name: "reconciler",
      bundle: () => bundleFunction("reconciler", outRoot),
      links: {
        HookflowTable: { name: "bench-cold-reconciler" },
        HookflowQueue: { url: quiet.queues.workUrl },
      },
      event: async () => lambdaFixture("scheduled-event"),
      problem: (answer) =>
        JSON.stringify(answer.result) === JSON.stringify({ reconciled: 1, scheduled: 0 })
          ? undefined
          : `expected one run reconciled, got ${JSON.stringify(answer).slice(0, 400)}`,
    },
    {
      // A due wake-up: a reconcile of its run on the work queue.
      name: "wakeUps",
      bundle: () => bundleFunction("wakeUps", outRoot),
      links: { ...state, HookflowWakeQueue: { url: wakeUrl } },
      event: async (sample) =>
        sqsEvent(
          { runId: shown.id, at: new Date(Date.now() - sample).toISOString(), reason: "observe" },
          shown.id,
        ),
      problem: batchProblem,
    },
  ];

  // What SST does on deploy: each function's links, encrypted with AES-256-GCM under a key of its own, in a file.
  const prepared = [];
  for (const entry of entries.filter((e) => !ONLY || e.name === FLOOR || ONLY.includes(e.name))) {
    const dir = join(outRoot, `settings-${entry.name.replace(/\W+/g, "-")}`);
    mkdirSync(dir, { recursive: true });
    const key = randomBytes(32);
    const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12, 0));
    const sealed = Buffer.concat([
      cipher.update(overTls(JSON.stringify(entry.links))),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    writeFileSync(join(dir, "resource.enc"), sealed);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      SST_KEY: key.toString("base64"),
      SST_KEY_FILE: join(dir, "resource.enc"),
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_LAMBDA_FUNCTION_NAME: entry.name,
      // What Lambda sets, which the code reads to know it runs there (loopback targets refused, metrics as EMF).
      AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001",
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      HOOKFLOW_DYNAMODB_ENDPOINT: overTls(emulators.dynamo.endpoint),
      HOOKFLOW_SQS_ENDPOINT: overTls(emulators.sqs.endpoint),
      HOOKFLOW_S3_ENDPOINT: overTls(emulators.s3.endpoint),
      ...(TLS_TO_AWS && { NODE_EXTRA_CA_CERTS: TLS_PROXY_CA_FILE }),
      ...Object.fromEntries(Object.entries(entry.env ?? {}).map(([name, value]) => [name, overTls(value)])),
    };
    prepared.push({ entry, dir, env, bundle: await entry.bundle() });
  }

  const samples = new Map(prepared.map(({ entry }) => [entry.name, [] as number[]]));
  const imports = new Map(prepared.map(({ entry }) => [entry.name, [] as number[]]));
  const cpu = new Map(
    prepared.map(({ entry }) => [entry.name, { imported: [] as number[], answered: [] as number[] }]),
  );
  const instructions = new Map(prepared.map(({ entry }) => [entry.name, [] as number[]]));
  const shapes = new Map(prepared.map(({ entry }) => [entry.name, [] as ReturnType<typeof routeShape>[]]));
  for (let sample = 0; sample < ROUNDS; sample++)
    for (const { entry, dir, env, bundle } of prepared) {
      const eventFile = join(dir, "event.json");
      writeFileSync(eventFile, JSON.stringify(await entry.event(sample)));
      const { ms, answer, instructions: counted, requests } = await coldStart(entry, bundle, eventFile, env);
      const problem = entry.problem(answer, sample);
      if (problem) throw new Error(`${entry.name}, sample ${sample}: ${problem}`);
      samples.get(entry.name)?.push(ms);
      imports.get(entry.name)?.push(answer.importedMs);
      cpu.get(entry.name)?.imported.push(answer.importCpuMs);
      cpu.get(entry.name)?.answered.push(answer.answerCpuMs);
      if (counted !== undefined) instructions.get(entry.name)?.push(counted / 1e6);
      if (requests) shapes.get(entry.name)?.push(routeShape(requests, answer.importedMs, answer.answeredMs));
    }
  // Every sample created its Job, through the client the row says (the built-in one names itself).
  const clients: string[] = [];
  for (const [name, cluster] of [
    ["scheduler", kubernetes],
    ["scheduler (EKS)", eks],
  ] as const) {
    if (!prepared.some(({ entry }) => entry.name === name)) continue;
    const created = cluster.requestsTo("POST", "/jobs").filter((r) => r.status === 201).length;
    if (created !== ROUNDS) throw new Error(`${name} created ${created} Jobs in ${ROUNDS} samples`);
    const agents = new Set(
      cluster.requests.map((r) => (r.userAgent === USER_AGENT ? "built-in" : "client-node")),
    );
    clients.push(`${name}: ${[...agents].join(" and ")} client`);
  }
  if (eks.eksVerdicts.some((v) => v.problem)) throw new Error("an EKS token was refused");
  // Over TLS, every sample reached DynamoDB through its proxy, and at least the floor's reached SQS through its.
  const [dynamoTls, sqsTls] = proxies;
  if (
    dynamoTls &&
    sqsTls &&
    (dynamoTls.proxy.connections < prepared.length * ROUNDS || sqsTls.proxy.connections < ROUNDS)
  )
    throw new Error(
      `over TLS: ${dynamoTls.proxy.connections} DynamoDB and ${sqsTls.proxy.connections} SQS connections in ${prepared.length * ROUNDS} samples`,
    );

  // Each row's sample against the floor's of the same round, a few hundred milliseconds apart: a change in the
  // machine's speed over the run moves both, which a ratio of the two medians does not cancel.
  const paired = (series: Map<string, number[]>, name: string) => {
    const floorSeries = series.get(FLOOR) ?? [];
    const ratios = (series.get(name) ?? []).map((value, round) => value / (floorSeries[round] ?? Number.NaN));
    return percentile(
      ratios.sort((a, b) => a - b),
      50,
    );
  };
  const answeredCpu = new Map([...cpu].map(([name, c]) => [name, c.answered]));
  const pairedClock = new Map(prepared.map(({ entry }) => [entry.name, paired(samples, entry.name)]));
  const pairedCpu = new Map(prepared.map(({ entry }) => [entry.name, paired(answeredCpu, entry.name)]));
  for (const values of [
    ...samples.values(),
    ...imports.values(),
    ...[...cpu.values()].flatMap((c) => [c.imported, c.answered]),
    ...instructions.values(),
  ])
    values.sort((a, b) => a - b);
  const p50 = (name: string) => percentile(samples.get(name) ?? [], 50);
  const floor = p50(FLOOR);
  console.log(
    `cold-start: ${ROUNDS} fresh node ${process.version} processes per function, spawn to first answer, DynamoDB, SQS and S3 over ${TLS_TO_AWS ? "TLS" : "plain http (BENCH_TLS=0)"}\n`,
  );
  console.log(
    table(
      prepared.map(({ entry, bundle }) => ({
        function: entry.name,
        "KB at start": Math.round(bundle.startupBytes / 1024),
        "KB in all": Math.round(bundle.totalBytes / 1024),
        "imported p50 ms": percentile(imports.get(entry.name) ?? [], 50),
        "CPU ms: imported": percentile(cpu.get(entry.name)?.imported ?? [], 50),
        "CPU ms: answered": percentile(cpu.get(entry.name)?.answered ?? [], 50),
        "answer p50 ms": p50(entry.name),
        "answer p90 ms": percentile(samples.get(entry.name) ?? [], 90),
        "× floor": p50(entry.name) / floor,
        "× floor, paired": pairedClock.get(entry.name) ?? Number.NaN,
        "CPU × floor, paired": pairedCpu.get(entry.name) ?? Number.NaN,
        ...(CALLGRIND && {
          "M instructions p50": percentile(instructions.get(entry.name) ?? [], 50),
          "× floor, instructions":
            percentile(instructions.get(entry.name) ?? [], 50) /
            percentile(instructions.get(FLOOR) ?? [], 50),
        }),
      })),
    ),
  );
  if (TRACE) {
    const median = (name: string, figure: keyof ReturnType<typeof routeShape>) =>
      percentile(
        (shapes.get(name) ?? []).map((shape) => shape[figure]).sort((a, b) => a - b),
        50,
      );
    console.log(
      `\nThe main route's requests (BENCH_TRACE=1; p50s; the route's ms run from the import's end to the answer)\n\n${table(
        prepared.map(({ entry }) => ({
          function: entry.name,
          requests: median(entry.name, "requests"),
          "round trips in a row": median(entry.name, "roundTrips"),
          "ms before the first": median(entry.name, "beforeFirst"),
          "ms with one in flight": median(entry.name, "inFlight"),
          "ms between them": median(entry.name, "rest"),
        })),
      )}`,
    );
  }
  /** The row furthest above the floor by a measure, and its ratio. */
  const worst = (measure: (name: string) => number) => {
    const rows = entries.map((entry) => entry.name).filter((name) => name !== FLOOR && samples.has(name));
    const name = rows.reduce((a, b) => (measure(b) > measure(a) ? b : a));
    return `${(measure(name) / measure(FLOOR)).toFixed(2)} (${name})`;
  };
  console.log(`\nKubernetes: ${clients.join("; ")}`);
  console.log(`\ncold-start ratio: ${worst(p50)}`);
  if (CALLGRIND)
    console.log(
      `cold-start instructions ratio: ${worst((name) => percentile(instructions.get(name) ?? [], 50))}`,
    );
} finally {
  await kubernetes.close();
  await eks.close();
  for (const { proxy } of proxies) await proxy.close();
  await emulators.stop();
  rmSync(outRoot, { recursive: true, force: true });
}
