import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import type { RunView } from "../../core/engine/index.js";
import { LIMITS } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { FakeGitHosts } from "../fake-git-hosts/index.js";
import { driveRun } from "../helpers/drive.js";
import { testSystem } from "../helpers/system.js";

const TOKEN = "test-api-token";
type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let app: ReturnType<typeof createApiApp>;
const gitHosts = new FakeGitHosts();
let dataDir: string;
let aliceToken: string;
let runner: ReturnType<typeof createLocalRunner>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hookflow-api-"));
  runner = createLocalRunner({ dataDir });
  await gitHosts.start();
  for (const repository of ["acme/shop", "acme/chatty"])
    gitHosts.push("github", repository, "main", { message: "head of main", author: "Ada", files: {} });
  system = await testSystem({
    runner,
    gitHosts,
    env: { HOOKFLOW_ROLES: JSON.stringify({ viewer: ["alice"] }) },
  });
  app = createApiApp(system.api);
  // No sign-in here: an admin (the bootstrap token) makes alice a token, which approves as her.
  const made = await call("POST", "/api/tokens", { name: "alice laptop", for: "alice" });
  expect(made.status).toBe(201);
  aliceToken = ((await made.json()) as { token: string }).token;
});
afterAll(async () => {
  await gitHosts.stop();
  await runner.stopAll();
  rmSync(dataDir, { recursive: true, force: true });
});

function call(method: string, path: string, body?: unknown, contentType = "application/json", token = TOKEN) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = contentType;
  return app.request(path, {
    method,
    headers,
    body: typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body),
  });
}

const JOB_YAML = `
name: publish
params:
  - { name: TARGET, enum: [staging, production], default: staging }
  - { name: REGISTRY_PASSWORD, sensitive: true, default: "default-pass-123" }
template:
  apiVersion: batch/v1
  kind: Job
  spec:
    template:
      spec:
        restartPolicy: Never
        containers:
          - name: publish
            image: alpine:3.20
            command: ["sh", "-c", "echo start; echo using $REGISTRY_PASSWORD for $TARGET; echo done"]
`;

const PIPELINE_YAML = `
name: shop
triggers:
  - { provider: github, repository: acme/shop, branches: [main] }
params: { REGISTRY_PASSWORD: "pipeline-secret-456" }
notify:
  - { kind: webhook, url: "http://127.0.0.1:9/hook", secret: "robot-secret", on: [run.failed] }
  - { kind: slack, url: "https://hooks.slack.com/services/T0/B0/slack-path-secret", on: [run.failed] }
stages:
  - name: build
    tasks:
      - { name: compile, run: { image: alpine, command: ["sh", "-c", "echo compiled"] } }
  - name: ship
    tasks:
      - { name: publish, job: publish }
      - { name: deploy, run: { image: alpine, command: ["true"] }, approval: { approvers: [alice] } }
`;

describe("authentication", () => {
  it("needs the bearer token on every /api route, and not on /healthz", async () => {
    expect((await app.request("/api/pipelines")).status).toBe(401);
    const wrong = await app.request("/api/pipelines", { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/HOOKFLOW_API_TOKEN/);
    expect((await app.request("/api/openapi.json")).status).toBe(401);
    expect((await app.request("/healthz")).status).toBe(200);
  });
});

describe("definitions", () => {
  it("refuses a pipeline naming an unknown job template", async () => {
    const res = await call("PUT", "/api/pipelines/shop", PIPELINE_YAML, "application/yaml");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issues: unknown[] }).issues).toEqual([
      { path: "stages[1].tasks[0].job", message: 'unknown job template "publish"' },
    ]);
  });

  it("creates and replaces job templates and pipelines from YAML or JSON, masking sensitive values", async () => {
    expect((await call("PUT", "/api/jobs/publish", JOB_YAML, "application/yaml")).status).toBe(201);
    const created = await call("PUT", "/api/pipelines/shop", PIPELINE_YAML, "application/yaml");
    expect(created.status).toBe(201);
    const body = (await created.json()) as {
      pipeline: { params: Record<string, string> };
      warnings: unknown[];
    };
    expect(body.pipeline.params.REGISTRY_PASSWORD).toBe("******");
    const shown = await (await call("GET", "/api/pipelines/shop")).json();
    expect(JSON.stringify(shown)).not.toMatch(/pipeline-secret-456|robot-secret|slack-path-secret/);
    expect((shown as { notify: Array<{ url: string }> }).notify.map((n) => n.url)).toEqual([
      "http://127.0.0.1:9/******",
      "https://hooks.slack.com/******",
    ]);
    // Written back as read, the stored secrets stay.
    expect((await call("PUT", "/api/pipelines/shop", shown)).status).toBe(200);
    const stored = await system.stores.definitions.getPipeline("shop");
    expect(stored?.value.params.REGISTRY_PASSWORD).toBe("pipeline-secret-456");
    expect(stored?.value.notify[0]?.secret).toBe("robot-secret");
    expect(stored?.value.notify[0]?.url).toBe("http://127.0.0.1:9/hook");
    expect(stored?.value.notify[1]?.url).toBe("https://hooks.slack.com/services/T0/B0/slack-path-secret");
    // A mask with nothing stored behind it would become the value: refused, naming where.
    const copy = { ...(shown as object), name: "shop-copy" };
    const refused = await call("PUT", "/api/pipelines/shop-copy", copy);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual(
      ["params.REGISTRY_PASSWORD", "notify[0].url", "notify[0].secret", "notify[1].url"],
    );
    const job = await (await call("GET", "/api/jobs/publish")).json();
    expect(JSON.stringify(job)).not.toContain("default-pass-123");
    expect(
      ((await (await call("GET", "/api/pipelines")).json()) as { items: Array<{ name: string }> }).items.map(
        (p) => p.name,
      ),
    ).toContain("shop");
  });

  it("lists every problem with its path and line", async () => {
    const res = await call(
      "PUT",
      "/api/pipelines/broken",
      "name: broken\nstages:\n  - name: a\n    tasks:\n      - { name: x }\n      - { name: x, run: { image: a, command: [a] }, retries: -1 }\n",
      "application/yaml",
    );
    expect(res.status).toBe(400);
    const { issues } = (await res.json()) as { issues: Array<{ path: string; message: string }> };
    expect(issues.map((i) => i.path).sort()).toEqual(
      ["stages[0].tasks[0]", "stages[0].tasks[1].name", "stages[0].tasks[1].retries"].sort(),
    );
  });

  it("refuses a body whose name differs from the URL, and YAML syntax errors, changing nothing", async () => {
    expect((await call("PUT", "/api/pipelines/other", PIPELINE_YAML, "application/yaml")).status).toBe(400);
    const syntax = await call("PUT", "/api/pipelines/shop", "name: shop\nstages: [", "application/yaml");
    expect(syntax.status).toBe(400);
    expect((await system.stores.definitions.getPipeline("shop"))?.value.stages).toHaveLength(2);
  });

  it("refuses to delete a job template in use, naming the pipelines", async () => {
    const res = await call("DELETE", "/api/jobs/publish");
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ pipelines: ["shop"] });
    expect((await call("DELETE", "/api/jobs/nope")).status).toBe(404);
  });
});

describe("runs", () => {
  let runId: string;

  it("starts a manual run, validating params and never echoing sensitive ones", async () => {
    const bad = await call("POST", "/api/pipelines/shop/runs", { params: { TARGET: "moon" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: Array<{ path: string }> }).issues[0]?.path).toBe("params.TARGET");
    const res = await call("POST", "/api/pipelines/shop/runs", {
      ref: "main",
      params: { TARGET: "production", REGISTRY_PASSWORD: "manual-secret-789" },
    });
    expect(res.status).toBe(201);
    const run = (await res.json()) as RunView;
    expect(run).toMatchObject({
      pipeline: "shop",
      status: "pending",
      trigger: { event: "manual", ref: "refs/heads/main", branch: "main" },
    });
    expect(JSON.stringify(run)).not.toContain("manual-secret-789");
    runId = run.id;
    expect((await call("POST", "/api/pipelines/nope/runs", {})).status).toBe(404);
  });

  it("runs it on the local runner; approvals by listed approvers only; logs with tail, masked", async () => {
    await driveRun(system, runId, { done: (r) => r.status === "waiting", timeoutMs: 45_000 });
    const bootstrap = await call("POST", `/api/runs/${runId}/tasks/deploy/approve`, { by: "alice" });
    expect(bootstrap.status).toBe(403);
    const asAlice = (body: unknown) =>
      call("POST", `/api/runs/${runId}/tasks/deploy/approve`, body, "application/json", aliceToken);
    expect((await asAlice({ by: "mallory" })).status).toBe(403);
    expect((await asAlice({ by: 7 })).status).toBe(400);
    const approved = await asAlice({ by: "alice", comment: "ship it" });
    expect(approved.status).toBe(200);
    const done = await driveRun(system, runId, { timeoutMs: 45_000 });
    expect(done.status).toBe("succeeded");

    const logs = await call("GET", `/api/runs/${runId}/tasks/publish/logs?tail=2`);
    expect(logs.status).toBe(200);
    expect(await logs.text()).toBe("using ****** for production\ndone\n");
    expect((await call("GET", `/api/runs/${runId}/tasks/nope/logs`)).status).toBe(404);
  });

  it("lets only an admin enable or disable a repository, audited either way; a viewer reads them", async () => {
    const path = "/api/repositories/github/acme%2Fshop";
    const refused = await call("PUT", path, undefined, "application/json", aliceToken);
    expect(refused.status).toBe(403);
    expect((await call("GET", path, undefined, "application/json", aliceToken)).status).toBe(404);
    expect((await call("PUT", path)).status).toBe(201);
    expect((await call("GET", path, undefined, "application/json", aliceToken)).status).toBe(200);
    const listed = await call("GET", "/api/repositories", undefined, "application/json", aliceToken);
    expect(
      ((await listed.json()) as { items: { repository: string }[] }).items.map((r) => r.repository),
    ).toContain("acme/shop");
    expect((await call("DELETE", path, undefined, "application/json", aliceToken)).status).toBe(403);
    expect((await call("DELETE", path)).status).toBe(204);
    const audit = (await (await call("GET", "/api/audit?limit=100")).json()) as {
      items: { actor: string; action: string; target: string; outcome: string }[];
    };
    const seen = (actor: string, action: string, outcome: string) =>
      audit.items.some(
        (e) =>
          e.actor === actor &&
          e.action === action &&
          e.target === "repository/github/acme/shop" &&
          e.outcome === outcome,
      );
    expect(seen("alice", "repository.enable", "refused")).toBe(true);
    expect(seen("alice", "repository.disable", "refused")).toBe(true);
    expect(seen("bootstrap", "repository.enable", "allowed")).toBe(true);
    expect(seen("bootstrap", "repository.disable", "allowed")).toBe(true);
  });

  it("reads runs one by one and in pages with opaque cursors", async () => {
    const second = (await (await call("POST", "/api/pipelines/shop/runs", {})).json()) as RunView;
    const one = (await (await call("GET", `/api/runs/${second.id}`)).json()) as RunView;
    expect(one.stages.map((s) => s.name)).toEqual(["build", "ship"]);
    const page = (await (await call("GET", "/api/runs?pipeline=shop&limit=1")).json()) as {
      items: RunView[];
      cursor: string;
    };
    expect(page.items.map((r) => r.id)).toEqual([second.id]);
    const next = (await (
      await call("GET", `/api/runs?pipeline=shop&limit=1&cursor=${page.cursor}`)
    ).json()) as { items: RunView[] };
    expect(next.items.map((r) => r.id)).toEqual([runId]);
    const filtered = (await (await call("GET", "/api/runs?status=succeeded")).json()) as { items: RunView[] };
    expect(filtered.items.map((r) => r.id)).toEqual([runId]);
    expect((await call("GET", "/api/runs?limit=1000")).status).toBe(400);
    expect((await call("GET", "/api/runs?cursor=garbage")).status).toBe(400);
    expect((await call("GET", "/api/runs/nope")).status).toBe(404);
  });

  it.each([
    ["another shape", { pk: { S: "x" } }],
    ["not an object", ["RUN"]],
    ["null", null],
    [
      "a number attribute",
      { pk: { N: "1" }, sk: { S: "RUN" }, gsi1pk: { S: "PIPELINE#shop" }, gsi1sk: { S: "x" } },
    ],
    [
      "another pipeline's partition",
      {
        pk: { S: "RUN#r1" },
        sk: { S: "RUN" },
        gsi1pk: { S: "PIPELINE#other" },
        gsi1sk: { S: "2026-01-01T00:00:00.000Z#r1" },
      },
    ],
    [
      "the all-runs index's key",
      {
        pk: { S: "RUN#r1" },
        sk: { S: "RUN" },
        gsi2pk: { S: "RUNS" },
        gsi2sk: { S: "2026-01-01T00:00:00.000Z#r1" },
      },
    ],
    [
      "an order key of another run",
      {
        pk: { S: "RUN#r1" },
        sk: { S: "RUN" },
        gsi1pk: { S: "PIPELINE#shop" },
        gsi1sk: { S: "2026-01-01T00:00:00.000Z#r2" },
      },
    ],
    [
      "an extra attribute",
      {
        pk: { S: "RUN#r1" },
        sk: { S: "RUN" },
        gsi1pk: { S: "PIPELINE#shop" },
        gsi1sk: { S: "2026-01-01T00:00:00.000Z#r1" },
        doc: { S: "{}" },
      },
    ],
  ])("answers 400, never 500, for a tampered cursor: %s", async (_, key) => {
    const cursor = Buffer.from(JSON.stringify(key)).toString("base64url");
    const res = await call("GET", `/api/runs?pipeline=shop&limit=1&cursor=${cursor}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; issues: Array<{ path: string; message: string }> };
    expect(body.error).toMatch(/^invalid cursor/);
    expect(body.issues).toEqual([
      { path: "cursor", message: expect.stringMatching(/list again without one/) },
    ]);
  });

  it.each([
    ["too long", "A".repeat(1025), /at most 1024 characters/],
    ["not base64url", "ab+/cd==", /base64url/],
    ["not JSON", Buffer.from("{not json").toString("base64url"), /not a cursor this API returned/],
  ])("answers 400 for a cursor that is %s", async (_, cursor, message) => {
    const res = await call("GET", `/api/runs?cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issues: Array<{ message: string }> }).issues[0]?.message).toMatch(
      message,
    );
  });

  it("cancels, refuses to cancel twice, re-runs failed-only, and denies with a comment", async () => {
    const run = (await (await call("POST", "/api/pipelines/shop/runs", {})).json()) as RunView;
    expect((await call("POST", `/api/runs/${run.id}/rerun`, { failedOnly: true })).status).toBe(409);
    const canceled = await call("POST", `/api/runs/${run.id}/cancel`, { by: "carol" });
    expect(canceled.status).toBe(200);
    expect(((await canceled.json()) as RunView).status).toBe("canceled");
    expect((await call("POST", `/api/runs/${run.id}/cancel`)).status).toBe(409);
    const again = await call("POST", `/api/runs/${run.id}/rerun`, { failedOnly: true });
    expect(again.status).toBe(200);
    expect(((await again.json()) as RunView).round).toBe(1);
    await driveRun(system, run.id, { done: (r) => r.status === "waiting", timeoutMs: 45_000 });
    const denied = await call(
      "POST",
      `/api/runs/${run.id}/tasks/deploy/deny`,
      { comment: "not today" },
      "application/json",
      aliceToken,
    );
    const view = (await denied.json()) as RunView;
    expect(view.status).toBe("failed");
    expect(view.message).toBe("task deploy failed: denied by alice: not today");
  });
});

describe("the OpenAPI document", () => {
  it("describes every route of the contract, generated from the schemas", async () => {
    const doc = (await (await call("GET", "/api/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        "PUT /api/pipelines/{name}",
        "GET /api/pipelines/{name}",
        "DELETE /api/pipelines/{name}",
        "GET /api/pipelines",
        "PUT /api/jobs/{name}",
        "GET /api/jobs/{name}",
        "DELETE /api/jobs/{name}",
        "GET /api/jobs",
        "POST /api/pipelines/{name}/runs",
        "GET /api/runs",
        "GET /api/runs/{id}",
        "POST /api/runs/{id}/cancel",
        "POST /api/runs/{id}/rerun",
        "POST /api/runs/{id}/tasks/{task}/approve",
        "POST /api/runs/{id}/tasks/{task}/deny",
        "POST /api/runs/{id}/tasks/{task}/cancel",
        "POST /api/runs/{id}/trust",
        "GET /api/runs/{id}/tasks/{task}/logs",
        "PUT /api/repositories/{provider}/{path}",
        "GET /api/repositories/{provider}/{path}",
        "DELETE /api/repositories/{provider}/{path}",
        "GET /api/repositories",
        "GET /api/repositories/{provider}/{path}/pipelines",
        "GET /api/me",
        "POST /api/tokens",
        "GET /api/tokens",
        "DELETE /api/tokens/{id}",
        "GET /api/audit",
        "GET /api/doctor",
      ].sort(),
    );
    const trust = (doc as { paths: Record<string, { post?: { description?: string } }> }).paths[
      "/api/runs/{id}/trust"
    ];
    expect(trust?.post?.description).toContain("fork");
    expect(JSON.stringify(doc)).toContain('"Run"');
    const rerun = JSON.stringify(
      (doc as { components?: { schemas?: Record<string, unknown> } }).components?.schemas?.Rerun,
    );
    for (const field of ["failedOnly", "task", "downstream"]) expect(rerun).toContain(`"${field}"`);
  });

  it("documents what each route reads (as a client sends it) and answers, from the same schemas", async () => {
    const doc: unknown = await (await call("GET", "/api/openapi.json")).json();
    const at = (value: unknown, ...path: (string | number)[]): unknown =>
      path.reduce((inner, key) => (inner as Record<string | number, unknown> | undefined)?.[key], value);
    const keys = (value: unknown) => Object.keys(value as object);
    const schemas = at(doc, "components", "schemas");
    const component = (id: string, ...path: (string | number)[]) => at(schemas, id, ...path);
    expect(keys(at(doc, "components", "securitySchemes")).sort()).toEqual(["bearer", "session"]);
    expect(at(doc, "info", "title")).toBe("hookflow");

    // Every reference names a component, and every component is referred to.
    const refs = new Set<string>();
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === "object")
        for (const [key, inner] of Object.entries(value))
          key === "$ref" ? refs.add(String(inner)) : walk(inner);
    };
    walk(doc);
    expect([...refs].sort()).toEqual(
      keys(schemas)
        .map((id) => `#/components/schemas/${id}`)
        .sort(),
    );

    const manualRun = at(doc, "paths", "/api/pipelines/{name}/runs", "post");
    expect(at(manualRun, "parameters")).toEqual([
      {
        in: "path",
        name: "name",
        required: true,
        schema: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" },
      },
    ]);
    expect(at(manualRun, "requestBody")).toEqual({
      required: false,
      content: { "application/json": { schema: { $ref: "#/components/schemas/ManualRun" } } },
    });
    expect(keys(component("ManualRun", "properties"))).toEqual(["ref", "commit", "params"]);
    expect(component("ManualRun", "additionalProperties")).toBe(false);
    expect(component("ManualRun", "required")).toBeUndefined();
    expect(at(manualRun, "responses", 201, "content", "application/json", "schema")).toEqual({
      $ref: "#/components/schemas/Run",
    });
    expect(component("Run", "required")).toEqual(
      expect.arrayContaining(["id", "pipeline", "status", "stages"]),
    );
    expect(component("Run", "properties", "status", "enum")).toContain("running");

    // A pipeline sent may leave out what has a default; one answered has it.
    const pipeline = at(doc, "paths", "/api/pipelines/{name}");
    expect(at(pipeline, "put", "requestBody", "required")).toBe(true);
    expect(at(pipeline, "put", "requestBody", "content", "application/yaml", "schema", "required")).toEqual([
      "name",
      "stages",
    ]);
    expect(
      at(pipeline, "get", "responses", 200, "content", "application/json", "schema", "required"),
    ).toEqual(expect.arrayContaining(["name", "stages", "triggers", "params"]));

    expect(at(doc, "paths", "/api/runs", "get", "parameters", 2)).toEqual({
      in: "query",
      name: "limit",
      required: false,
      schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
    });
    const logs = at(doc, "paths", "/api/runs/{id}/tasks/{task}/logs", "get");
    expect(at(logs, "parameters", 2, "name")).toBe("attempt");
    expect(at(logs, "parameters", 2, "description")).toMatch(/earlier attempt/);
    expect(keys(at(logs, "responses", 200, "content"))).toEqual(["text/plain"]);

    const token = at(doc, "paths", "/api/tokens", "post");
    expect(at(token, "requestBody", "content", "application/json", "schema", "required")).toEqual(["name"]);
    expect(at(token, "responses", 201, "content", "application/json", "schema", "$ref")).toBe(
      "#/components/schemas/TokenCreated",
    );
    expect(component("TokenCreated", "allOf", 0)).toEqual({ $ref: "#/components/schemas/Token" });
    expect(component("TokenCreated", "allOf", 1, "required")).toEqual(["token"]);
  });
});

describe("logs", () => {
  it("answers a log larger than a Lambda answer may be with its newest part, saying so", async () => {
    const chatty = `name: chatty
triggers: [{ provider: github, repository: acme/chatty }]
stages:
  - name: talk
    tasks:
      - name: talk
        run: { image: alpine, command: ["sh", "-c", "seq -w 1 15000 | sed 's/$/ ${"x".repeat(90)}/'"] }
`;
    expect((await call("PUT", "/api/pipelines/chatty", chatty, "application/yaml")).status).toBe(201);
    const run = (await (await call("POST", "/api/pipelines/chatty/runs", {})).json()) as RunView;
    expect((await driveRun(system, run.id, { timeoutMs: 45_000 })).status).toBe("succeeded");
    const text = await (await call("GET", `/api/runs/${run.id}/tasks/talk/logs`)).text();
    const lines = text.split("\n");
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(LIMITS.logBytes + 100);
    expect(lines[0]).toMatch(/^\[… \d+ bytes before this are not shown: use \?tail=N\]$/);
    expect(lines[1]).toMatch(/^\d{5} x+$/);
    expect(lines.at(-2)).toMatch(/^15000 x+$/);
    const tail = await (await call("GET", `/api/runs/${run.id}/tasks/talk/logs?tail=1`)).text();
    expect(tail).toMatch(/^15000 x+\n$/);
  });
});
