import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signGithub } from "../../core/adapters/git/index.js";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import type { Logger } from "../../core/ports.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { driveRun } from "../helpers/drive.js";
import { SECRETS, TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";
import { deliver, fixture } from "../helpers/webhooks.js";
import { RECEIVER_TARGETS } from "../receivers/fixtures.js";
import { RECEIVER_SECRETS, type Receivers, startReceivers } from "../receivers/index.js";

const TOKEN = "test-api-token";
const SECRET_VALUE = "s3cr3t-Registry-Pa55";
let work: string;
let receivers: Receivers;
let runner: ReturnType<typeof createLocalRunner>;
const logged: string[] = [];
const log: Logger = {
  info: (m, f) => logged.push(JSON.stringify({ m, f })),
  warn: (m, f) => logged.push(JSON.stringify({ m, f })),
  error: (m, f) => logged.push(JSON.stringify({ m, f })),
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "hookflow-security-"));
  receivers = await startReceivers();
  runner = createLocalRunner({ dataDir: join(work, "runner") });
});
afterAll(async () => {
  await runner.stopAll();
  await receivers.close();
  rmSync(work, { recursive: true, force: true });
});

const api = (app: ReturnType<typeof createApiApp>, method: string, path: string, body?: string) =>
  app.request(path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/yaml" },
    body,
  });

describe("injection through git and task values", () => {
  it("runs nothing hidden in branch names, commit messages and outputs, and keeps every secret out of answers, logs and notifications", async () => {
    const system = await testSystem({
      runner,
      log,
      sender: createNotificationSender({ targets: RECEIVER_TARGETS }),
    });
    const webhook = createWebhookApp(system.webhook);
    const apiApp = createApiApp(system.api);
    const pwned = (what: string) => join(work, `pwned-${what}`);
    const job = `
name: publish
params:
  - { name: REGISTRY_PASSWORD, sensitive: true }
template:
  apiVersion: batch/v1
  kind: Job
  spec:
    template:
      spec:
        containers:
          - name: publish
            image: alpine
            command: ["sh", "-c", "echo label=\${GIT_BRANCH} pass=$REGISTRY_PASSWORD; echo LEAK=$REGISTRY_PASSWORD >> $HOOKFLOW_TERMINATION_LOG"]
`;
    const pipelineYaml = `
name: hostile
triggers: [{ provider: github, repository: acme/web-app }]
params: { REGISTRY_PASSWORD: "${SECRET_VALUE}" }
notify:
  - { kind: webhook, url: "${receivers.webhook.url}", secret: "${RECEIVER_SECRETS.webhookSecret}", on: [run.started, run.succeeded, run.failed, task.failed, task.succeeded] }
stages:
  - name: one
    tasks:
      - name: echo
        run:
          image: alpine
          command: ["sh", "-c", "echo \\"$GIT_BRANCH\\" \\"$GIT_COMMIT_MESSAGE\\" \\"$GIT_AUTHOR\\"; printf 'EVIL=$(touch ${pwned("output")})\\\\n' > $HOOKFLOW_TERMINATION_LOG"]
  - name: two
    tasks:
      - { name: use-output, run: { image: alpine, command: ["sh", "-c", "echo \\"$EVIL\\" $EVIL"] } }
      - { name: publish, job: publish }
`;
    expect((await api(apiApp, "PUT", "/api/jobs/publish", job)).status).toBe(201);
    const put = await api(apiApp, "PUT", "/api/pipelines/hostile", pipelineYaml);
    expect(put.status, await put.clone().text()).toBe(201);

    const branch = `x$(touch ${pwned("branch")})\`touch ${pwned("backtick")}\``;
    const push = {
      ...fixture("github-push"),
      ref: `refs/heads/${branch}`,
      head_commit: {
        ...(fixture("github-push").head_commit as object),
        message: `fix \`touch ${pwned("message")}\` $(touch ${pwned("message2")})\nkind: Secret`,
        author: { name: `$(touch ${pwned("author")})`, email: "e@x", username: "u" },
      },
    };
    const res = await deliver(webhook, "github", push, { deliveryId: "hostile-1" });
    expect(res.status).toBe(202);
    const { runs } = (await res.json()) as { runs: Array<{ id: string }> };
    const runId = runs[0]?.id as string;
    const run = await driveRun(system, runId, {
      timeoutMs: 30_000,
      done: (r) => r.status === "succeeded" && r.outbox.length === 0,
    });
    expect(run.status).toBe("succeeded");
    expect(readdirSync(work).filter((f) => f.startsWith("pwned"))).toEqual([]);
    expect(existsSync(pwned("branch"))).toBe(false);

    // Everything anyone can read: API answers, logs of every task, notification bodies, the server's own logs.
    const answers: string[] = [];
    for (const path of [
      `/api/runs/${runId}`,
      "/api/runs",
      "/api/runs?pipeline=hostile",
      "/api/pipelines",
      "/api/pipelines/hostile",
      "/api/jobs",
      "/api/jobs/publish",
    ])
      answers.push(await (await api(apiApp, "GET", path)).text());
    for (const task of ["echo", "use-output", "publish"])
      answers.push(await (await api(apiApp, "GET", `/api/runs/${runId}/tasks/${task}/logs`)).text());
    const publishLog = answers.at(-1) as string;
    expect(publishLog).toMatch(/pass=\*{6}/);
    const notifications = receivers.webhook.accepted.map((r) => r.body);
    expect(notifications.length).toBeGreaterThan(2);
    const everything = [...answers, ...notifications, ...logged].join("\n");
    expect(everything).not.toContain(SECRET_VALUE);
    expect(everything).not.toContain(TEST_TOKEN_SECRET);
    expect(everything).not.toContain(
      new TaskTokens(TEST_TOKEN_SECRET).tokenFor({ runId: runId, task: "publish", attempt: 1 }),
    );
  }, 60_000);
});

describe("tokens and signatures", () => {
  it("refuse a webhook replayed with a changed body", async () => {
    const system = await testSystem();
    const webhook = createWebhookApp(system.webhook);
    const body = JSON.stringify(fixture("github-push"));
    const signature = signGithub(body, SECRETS.github);
    const changed = body.replace("refs/heads/main", "refs/heads/evil");
    const res = await webhook.request("/webhooks/github", {
      method: "POST",
      headers: { "x-github-event": "push", "x-github-delivery": "replay", "x-hub-signature-256": signature },
      body: changed,
    });
    expect(res.status).toBe(401);
  });

  it("refuse every /api route without the token", async () => {
    const system = await testSystem();
    const apiApp = createApiApp(system.api);
    const doc = (await (await api(apiApp, "GET", "/api/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        path: path.replace(/\{(\w+)\}/g, "x"),
      })),
    );
    expect(routes.length).toBeGreaterThanOrEqual(16);
    for (const route of [...routes, { method: "GET", path: "/api/openapi.json" }]) {
      const res = await apiApp.request(route.path, {
        method: route.method,
        body: route.method === "GET" ? undefined : "{}",
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(401);
    }
  });

  it("refuse a finished attempt's token once the task moved on, and another run's token", async () => {
    const system = await testSystem();
    const callbacks = createCallbackApp(system.callback);
    const tokens = new TaskTokens(TEST_TOKEN_SECRET);
    const { newRun, pipeline, runTask } = await import("../helpers/factories.js");
    await system.stores.runs.saveRun(
      newRun({
        id: "reuse",
        pipeline: pipeline({ stages: [{ name: "s", tasks: [runTask("t", { retries: 1 })] }] }),
      }),
    );
    await system.recorder.record("reuse", [{ type: "run.created" }]);
    const report = (attempt: number, token: string, status = "failed") =>
      callbacks.request(`/callbacks/tasks/reuse.t.${attempt}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ status, message: "x" }),
      });
    const first = tokens.tokenFor({ runId: "reuse", task: "t", attempt: 1 });
    expect((await report(1, first)).status).toBe(200); // attempt 1 failed; attempt 2 starts
    expect((await report(1, first, "succeeded")).status).toBe(409); // reused: attempt 1 is over
    expect((await report(2, first, "succeeded")).status).toBe(403); // attempt 1's token on attempt 2
    expect(
      (await report(2, tokens.tokenFor({ runId: "other", task: "t", attempt: 2 }), "succeeded")).status,
    ).toBe(403);
    expect(
      (await report(2, tokens.tokenFor({ runId: "reuse", task: "t", attempt: 2 }), "succeeded")).status,
    ).toBe(200);
  });
});
