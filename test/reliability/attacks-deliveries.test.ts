import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createTcpServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import type { Run } from "../../core/model/index.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { driveRun } from "../helpers/drive.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { TEST_TOKEN_SECRET, testSystem } from "../helpers/system.js";
import { deliver, distinctBody, fixture } from "../helpers/webhooks.js";
import { RECEIVER_TARGETS } from "../receivers/fixtures.js";
import { RECEIVER_SECRETS, type Receivers, startReceivers } from "../receivers/index.js";

/**
 * Issue 13's attacks through what a git host, a task or a notification target sends: signed deliveries into the
 * webhook app, reports into the callback app, the scheduler's real handler on the SQS emulator and DynamoDB
 * Local, notifications to receivers on loopback. Each attack is refused or bounded, and changes nothing else.
 */
const API = "test-api-token";
const SECRET = "Deploy-Key-9f3Kq2Lw";
let receivers: Receivers;
let system: Awaited<ReturnType<typeof testSystem>>;
let runner: MemoryRunner;
let webhook: ReturnType<typeof createWebhookApp>;
let api: ReturnType<typeof createApiApp>;
let callback: ReturnType<typeof createCallbackApp>;

const call = (method: string, path: string, body?: string, type = "application/yaml") =>
  api.request(path, { method, headers: { authorization: `Bearer ${API}`, "content-type": type }, body });
const runIds = async () =>
  ((await (await call("GET", "/api/runs?limit=100")).json()) as { items: Array<{ id: string }> }).items
    .map((r) => r.id)
    .sort();
const runsOf = async (res: Response) => ((await res.json()) as { runs: Array<{ id: string }> }).runs;

const JOB = `
name: deploy
params: [{ name: DEPLOY_KEY, sensitive: true }]
template:
  apiVersion: batch/v1
  kind: Job
  spec:
    template:
      spec:
        containers: [{ name: deploy, image: alpine, command: ["sh", "-c", "deploy"] }]
`;
const PIPELINE = `
name: web
triggers: [{ provider: github, repository: acme/web-app }, { provider: gitlab, repository: gitlab/gitlab }]
params: { DEPLOY_KEY: "${SECRET}" }
notify:
  - { kind: dingtalk, url: "${"DINGTALK"}", secret: "${RECEIVER_SECRETS.dingtalkSecret}", on: [run.started] }
  - { kind: wecom, url: "${"WECOM"}", on: [run.started] }
stages:
  - name: build
    parallel: true
    tasks:
      - { name: plain, retries: 1, run: { image: alpine, command: ["sh", "-c", "make"] } }
      - { name: sign, run: { image: alpine, command: ["sh", "-c", "sign"] }, secrets: [DEPLOY_KEY] }
      - { name: deploy, job: deploy }
`;

beforeAll(async () => {
  receivers = await startReceivers();
  runner = new MemoryRunner();
  system = await testSystem({ runner, sender: createNotificationSender({ targets: RECEIVER_TARGETS }) });
  webhook = createWebhookApp(system.webhook);
  api = createApiApp(system.api);
  callback = createCallbackApp(system.callback);
  expect((await call("PUT", "/api/jobs/deploy", JOB)).status).toBe(201);
  const pipeline = PIPELINE.replace("DINGTALK", receivers.dingtalk.url).replace("WECOM", receivers.wecom.url);
  const put = await call("PUT", "/api/pipelines/web", pipeline);
  expect(put.status, await put.clone().text()).toBe(201);
});
afterAll(() => receivers.close());

const HOSTILE_MESSAGE =
  'fix [all green](https://evil.example/x) <font color="info">passed</font> <@admin> **bold**\n\nbody';
let run: Run;

describe("a push with hostile text, and its run's secrets", () => {
  it("starts one run whose robot messages show the commit's markup as text", async () => {
    const push = fixture("github-push");
    const res = await deliver(
      webhook,
      "github",
      { ...push, head_commit: { ...(push.head_commit as object), message: HOSTILE_MESSAGE } },
      { deliveryId: "hostile-push" },
    );
    expect(res.status).toBe(202);
    const [created] = await runsOf(res);
    run = await driveRun(system, created?.id as string, {
      done: (r) =>
        ["plain", "sign", "deploy"].every((t) => r.stages[0]?.tasks.find((x) => x.name === t)?.submittedAt) &&
        r.outbox.length === 0,
    });
    for (const robot of [receivers.dingtalk, receivers.wecom]) {
      expect(robot.accepted).toHaveLength(1);
      const text = robot.accepted[0]?.body ?? "";
      expect(text).toContain("all green"); // the subject is there, as text
      // hookflow's own status colour stays; the commit's link, colour and mention do not.
      expect(text).not.toMatch(/\]\(https:\/\/evil|<font color=\\"info|<@admin>|\*\*bold/);
    }
  });

  it("gives the sensitive param only to the tasks that declare it, in no form to the plain task", async () => {
    const launch = (task: string) => runner.launchesOf(task)[0];
    const plain = JSON.stringify(launch("plain"));
    for (const form of [
      SECRET,
      Buffer.from(SECRET).toString("base64"),
      Buffer.from(SECRET).toString("base64url"),
      [...SECRET].reverse().join(""),
    ])
      expect(plain).not.toContain(form);
    expect(launch("sign")?.secretEnv.DEPLOY_KEY).toBe(SECRET);
    expect(launch("deploy")?.secretEnv.DEPLOY_KEY).toBe(SECRET);
    const shown = [
      await (await call("GET", `/api/runs/${run.id}`)).text(),
      await (await call("GET", "/api/pipelines/web")).text(),
      ...receivers.all().flatMap((r) => r.accepted.map((a) => a.body)),
    ].join("\n");
    expect(shown).not.toContain(SECRET);
  });
});

describe("callbacks", () => {
  const tokens = new TaskTokens(TEST_TOKEN_SECRET);
  const report = (task: string, attempt: number, body: object, token: string) =>
    callback.request(`/callbacks/tasks/${run.id}.${task}.${attempt}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("refuses the token of another attempt, another task and the Job-name form; a repeated report is 200 and changes nothing", async () => {
    const given = runner.launchesOf("plain")[0]?.secretEnv.HOOKFLOW_TASK_TOKEN as string;
    const before = await system.stores.runs.getRun(run.id);
    const done = { status: "succeeded", outputs: { VERSION: "1.2.3" } };
    for (const [task, attempt, token] of [
      ["plain", 2, given], // this attempt's token on the next attempt
      ["sign", 1, given], // on another task
      ["plain", 1, tokens.tokenFor({ runId: run.id, task: "plain", attempt: 2 })],
      ["plain", 1, tokens.previousReleaseTokenFor({ runId: run.id, task: "plain", attempt: 1 })],
    ] as const)
      expect((await report(task, attempt, done, token)).status, `${task}.${attempt}`).toBe(403);
    expect((await system.stores.runs.getRun(run.id))?.version).toBe(before?.version);

    expect((await report("plain", 1, done, given)).status).toBe(200);
    const recorded = await system.stores.runs.getRun(run.id);
    expect((await report("plain", 1, done, given)).status).toBe(200);
    expect((await system.stores.runs.getRun(run.id))?.version).toBe(recorded?.version);
    expect((await report("plain", 1, { status: "failed", message: "x" }, given)).status).toBe(409);
    expect((await system.stores.runs.getRun(run.id))?.version).toBe(recorded?.version);
  });
});

describe("deliveries", () => {
  it("answers a signed body resent under a new delivery id with the runs it made, and starts none", async () => {
    const before = await runIds();
    const first = await deliver(webhook, "github", distinctBody(fixture("github-push"), "replay"), {
      deliveryId: "original",
    });
    const made = await runsOf(first.clone());
    expect(made).toHaveLength(1);
    for (const id of ["resent-1", "resent-2"]) {
      const again = await deliver(webhook, "github", distinctBody(fixture("github-push"), "replay"), {
        deliveryId: id,
      });
      expect(again.status).toBe(202);
      expect(await again.json()).toMatchObject({ replayOf: "original", runs: made });
    }
    expect(await runIds()).toEqual([...before, made[0]?.id].sort());
  });

  it("takes GitLab's own Test-button push, which has no user_username, with its head commit's author", async () => {
    const res = await deliver(webhook, "gitlab", fixture("gitlab-test-button-push"), {
      deliveryId: "gl-test",
    });
    expect(res.status).toBe(202);
    const [made] = await runsOf(res);
    const stored = await system.stores.runs.getRun(made?.id as string);
    expect(stored?.trigger).toMatchObject({ author: "Test User", branch: "master" });
  });

  it("matches a 44-character and a 10,000-character branch against the most backtracking glob allowed, quickly and without a run", async () => {
    const stars = `${"a*".repeat(8)}b`;
    const put = await call(
      "PUT",
      "/api/pipelines/globs",
      `name: globs\ntriggers: [{ provider: github, repository: acme/web-app, branches: ["${stars}"] }]\nstages: [{ name: s, tasks: [{ name: t, run: { image: alpine, command: ["true"] } }] }]\n`,
    );
    expect(put.status, await put.clone().text()).toBe(201);
    const before = await runIds();
    for (const [i, branch] of ["a".repeat(44), "a".repeat(10_000)].entries()) {
      const res = await deliver(
        webhook,
        "github",
        distinctBody({ ...fixture("github-push"), ref: `refs/heads/${branch}` }, `glob-${i}`),
        { deliveryId: `glob-${i}` },
      );
      expect(res.status).toBe(202);
      // The other pipeline (no branch filter) runs for the short name; the glob pipeline never does.
      expect((await runsOf(res)).map((r) => r)).not.toContainEqual(
        expect.objectContaining({ pipeline: "globs" }),
      );
    }
    expect((await runIds()).length).toBeLessThanOrEqual(before.length + 2);
    expect((await call("DELETE", "/api/pipelines/globs")).status).toBe(204);
  });
});

/** An HTTP target that answers 500 with an endless body, counting what its socket accepted until dropped. */
async function startFloodingTarget() {
  let written = 0;
  let dropped = 0;
  const chunk = Buffer.alloc(64 * 1024, "x");
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(500, { "content-type": "text/plain", "content-length": String(300 * 1024 * 1024) });
    const pump = () => {
      while (written < 300 * 1024 * 1024 && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
    };
    res.on("close", () => {
      dropped++;
    });
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    written: () => written,
    dropped: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP port that counts connections and never answers (a target that hangs, or one nothing may reach). */
async function startSilentPort() {
  const sockets: Socket[] = [];
  const server = createTcpServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => sockets.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("notification targets", () => {
  it("a hanging and a flooding target: the run still finishes, the flood is dropped unread, no reply body is stored", async () => {
    const flood = await startFloodingTarget();
    const hang = await startSilentPort();
    try {
      const instant = new MemoryRunner();
      instant.onSubmit = (launch) => instant.set(launch.jobName, { state: "succeeded" });
      const own = await testSystem({
        runner: instant,
        sender: createNotificationSender({ targets: RECEIVER_TARGETS, timeoutMs: 10 * 60_000 }),
        notifyBudgetSeconds: 0.5,
      });
      const ownApi = createApiApp(own.api);
      const put = await ownApi.request("/api/pipelines/noisy", {
        method: "PUT",
        headers: { authorization: `Bearer ${API}`, "content-type": "application/yaml" },
        body: `name: noisy
triggers: [{ provider: github, repository: acme/web-app }]
notify:
  - { kind: webhook, url: "${flood.url}", on: [run.started] }
  - { kind: webhook, url: "http://127.0.0.1:${hang.port}/hook", on: [run.started] }
stages: [{ name: s, tasks: [{ name: t, run: { image: alpine, command: ["true"] } }] }]
`,
      });
      expect(put.status, await put.clone().text()).toBe(201);
      const res = await deliver(createWebhookApp(own.webhook), "github", fixture("github-push"), {
        deliveryId: "noisy",
      });
      const [made] = await runsOf(res);
      const done = await driveRun(own, made?.id as string, {
        done: (r) => r.status === "succeeded" && r.outbox.length === 0,
      });
      expect(done.deliveryFailures).toHaveLength(2);
      expect(flood.dropped()).toBeGreaterThanOrEqual(1);
      // What the sender's sockets accepted before each dropped its connection: kernel buffers, not 300 MB.
      expect(flood.written()).toBeLessThan(flood.dropped() * 16 * 1024 * 1024);
      const shown = await (
        await ownApi.request(`/api/runs/${done.id}`, { headers: { authorization: `Bearer ${API}` } })
      ).text();
      expect(shown).not.toContain("xxxxxxxx");
    } finally {
      await Promise.all([flood.close(), hang.close()]);
    }
  });

  it("a name that resolves to loopback when sending (DNS rebinding) is refused without connecting", async () => {
    const target = await startSilentPort();
    try {
      const own = await testSystem({
        env: { HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "0" },
        sender: createNotificationSender({
          targets: { allowLoopback: false },
          // The name was public when the definition was written; now it answers 127.0.0.1.
          resolve: async () => [{ address: "127.0.0.1", family: 4 }],
        }),
      });
      const ownApi = createApiApp(own.api);
      const put = await ownApi.request("/api/pipelines/rebind", {
        method: "PUT",
        headers: { authorization: `Bearer ${API}`, "content-type": "application/yaml" },
        body: `name: rebind
triggers: [{ provider: github, repository: acme/web-app }]
notify: [{ kind: webhook, url: "https://hooks.rebind.example:${target.port}/hook", on: [run.started] }]
stages: [{ name: s, tasks: [{ name: t, run: { image: alpine, command: ["true"] } }] }]
`,
      });
      expect(put.status, await put.clone().text()).toBe(201);
      const res = await deliver(createWebhookApp(own.webhook), "github", fixture("github-push"), {
        deliveryId: "rebind",
      });
      const [made] = await runsOf(res);
      const done = await driveRun(own, made?.id as string, { done: (r) => r.deliveryFailures.length > 0 });
      expect(done.deliveryFailures[0]?.error).toMatch(/resolves to/);
      expect(target.connections()).toBe(0);
    } finally {
      await target.close();
    }
  });
});
