import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunView } from "../../core/engine/index.js";
import { SCHEDULER } from "../../core/model/index.js";
import type { Clock } from "../../core/ports.js";
import { createApiApp } from "../../functions/api.js";
import {
  type DemoUser,
  demoUsers,
  type LocalProvider,
  startLocalProvider,
} from "../../infra/local/oidc-provider.js";
import { driveRun } from "../helpers/drive.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { type SignedIn, signInAs } from "../helpers/signin.js";
import { PUBLIC_URL, testSystem } from "../helpers/system.js";

const BOOTSTRAP = "test-api-token";
const BIN = join(import.meta.dirname, "../../core/cli/bin.js");
const ROLES = { admin: ["alice@example.com"], operator: ["group:dev"], viewer: ["*"] };

/** The test's clock: real time plus what a test moves it on by (an approval's timeout, a session's expiry). */
let skewMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + skewMs).toISOString() };

let provider: LocalProvider;
let users: Record<string, DemoUser>;
let system: Awaited<ReturnType<typeof testSystem>>;
let app: ReturnType<typeof createApiApp>;
const runner = new MemoryRunner();
runner.onSubmit = (launch) => runner.set(launch.jobName, { state: "succeeded" });
const sessions: Record<string, SignedIn> = {};

beforeAll(async () => {
  users = demoUsers();
  provider = await startLocalProvider({
    clientId: "hookflow",
    clientSecret: "hookflow-client-secret",
    redirectUris: [`${PUBLIC_URL}/auth/callback`],
    users,
  });
  system = await testSystem({
    runner,
    clock,
    env: {
      HOOKFLOW_OIDC_ISSUER: provider.issuer,
      HOOKFLOW_OIDC_CLIENT_ID: "hookflow",
      HOOKFLOW_OIDC_CLIENT_SECRET: "hookflow-client-secret",
      HOOKFLOW_ROLES: JSON.stringify(ROLES),
    },
  });
  app = createApiApp(system.api);
  for (const name of ["alice", "bob", "carol"])
    sessions[name] = await signInAs(app as never, name, users[name]?.password as string);
  const put = await bootstrap("PUT", "/api/pipelines/gated", GATED);
  expect(put.status).toBe(201);
}, 60_000);
afterAll(async () => {
  await provider?.close();
});

const GATED = `
name: gated
triggers: [{ provider: github, repository: acme/gated }]
concurrency: { group: gated }
stages:
  - name: ship
    tasks:
      - { name: deploy, run: { image: alpine, command: ["true"] }, approval: { approvers: [alice, bob@example.com], allowSelfApproval: false } }
      - { name: after, run: { image: alpine, command: ["true"] } }
`;

function bootstrap(method: string, path: string, body?: string | object) {
  return send(method, path, { authorization: `Bearer ${BOOTSTRAP}` }, body);
}
function as(name: string, method: string, path: string, body?: string | object, csrf = true) {
  const session = sessions[name] as SignedIn;
  return send(
    method,
    path,
    { cookie: session.jar.header(), ...(csrf && { "x-hookflow-csrf": session.csrf }) },
    body,
  );
}
function withToken(token: string, method: string, path: string, body?: object) {
  return send(method, path, { authorization: `Bearer ${token}` }, body);
}
function send(method: string, path: string, headers: Record<string, string>, body?: string | object) {
  const type = typeof body === "string" ? "application/yaml" : "application/json";
  return app.request(path, {
    method,
    headers: { ...headers, ...(body !== undefined && { "content-type": type }) },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

async function startRun(by: string): Promise<string> {
  const started = await as(by, "POST", "/api/pipelines/gated/runs", {});
  expect(started.status).toBe(201);
  const { id } = (await started.json()) as RunView;
  await driveRun(system, id, { done: (r) => r.status === "waiting" });
  return id;
}

describe("sign-in", () => {
  it("signs in against the provider with PKCE and leaves a session that says who and what role", async () => {
    expect(sessions.alice?.landed).toBe("/");
    const cookie = (sessions.alice as SignedIn).jar.header();
    expect(cookie).toContain("hookflow_session=");
    const me = await as("alice", "GET", "/api/me");
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({
      kind: "person",
      subject: "alice",
      name: "alice",
      email: "alice@example.com",
      roles: ["viewer", "operator", "admin"],
      csrfToken: sessions.alice?.csrf,
    });
    expect(((await (await as("bob", "GET", "/api/me")).json()) as { roles: string[] }).roles).toEqual([
      "viewer",
      "operator",
    ]);
    expect(((await (await as("carol", "GET", "/api/me")).json()) as { roles: string[] }).roles).toEqual([
      "viewer",
    ]);
  });

  it("refuses a wrong password at the provider, and returns to the page asked for", async () => {
    await expect(signInAs(app as never, "alice", "not-her-password")).rejects.toThrow(/401/);
    const again = await signInAs(app as never, "carol", users.carol?.password as string, "?return=/runs/abc");
    expect(again.landed).toBe("/runs/abc");
    expect((await app.request("/auth/login?return=//evil.example/")).status).toBe(400);
  });

  it("answers a forged or expired session cookie with 401", async () => {
    const real = sessions.carol?.jar.get("hookflow_session") as string;
    const [body] = real.split(".");
    const forgedBody = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(body as string, "base64url").toString()),
        identity: { subject: "alice", username: "alice", email: "alice@example.com", groups: [] },
      }),
    ).toString("base64url");
    const forged = await app.request("/api/me", {
      headers: { cookie: `hookflow_session=${forgedBody}.${real.split(".")[1]}` },
    });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: string }).error).toMatch(/not signed by this hookflow/);
    skewMs = 13 * 3600_000;
    try {
      const expired = await as("carol", "GET", "/api/me");
      expect(expired.status).toBe(401);
      expect(((await expired.json()) as { error: string }).error).toMatch(/expired/);
    } finally {
      skewMs = 0;
    }
  });

  it("refuses a change made with the session cookie but without the CSRF header", async () => {
    const refused = await as("alice", "POST", "/api/tokens", { name: "cli" }, false);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/X-Hookflow-CSRF/);
    const wrong = await send(
      "POST",
      "/api/tokens",
      {
        cookie: sessions.alice?.jar.header() as string,
        "x-hookflow-csrf": sessions.bob?.csrf as string,
        "content-type": "application/json",
      },
      { name: "cli" },
    );
    expect(wrong.status).toBe(403);
  });

  it("fails sign-in with a message while the provider is down, and the API keeps working with tokens", async () => {
    const down = await testSystem({
      env: {
        HOOKFLOW_OIDC_ISSUER: "http://127.0.0.1:9",
        HOOKFLOW_OIDC_CLIENT_ID: "hookflow",
        HOOKFLOW_ROLES: JSON.stringify(ROLES),
      },
    });
    const downApp = createApiApp(down.api);
    const login = await downApp.request("/auth/login");
    expect(login.status).toBe(503);
    expect(((await login.json()) as { error: string }).error).toMatch(
      /sign-in is unavailable.*HOOKFLOW_OIDC_ISSUER/,
    );
    const api = await downApp.request("/api/pipelines", {
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
    });
    expect(api.status).toBe(200);
  });
});

describe("roles", () => {
  it("lets a viewer read but not cancel, and an operator run but not change a pipeline (403 naming the role)", async () => {
    expect((await as("carol", "GET", "/api/pipelines")).status).toBe(200);
    const runId = await startRun("bob");
    const cancel = await as("carol", "POST", `/api/runs/${runId}/cancel`);
    expect(cancel.status).toBe(403);
    expect(((await cancel.json()) as { error: string }).error).toMatch(
      /needs the operator role; carol has the viewer role/,
    );
    expect((await as("carol", "POST", "/api/pipelines/gated/runs", {})).status).toBe(403);
    const change = await as("bob", "PUT", "/api/pipelines/gated", GATED);
    expect(change.status).toBe(403);
    expect(((await change.json()) as { error: string }).error).toMatch(/needs the admin role/);
    expect((await as("bob", "GET", "/api/audit")).status).toBe(403);
    expect((await as("bob", "POST", `/api/runs/${runId}/cancel`)).status).toBe(200);
  });
});

describe("approvals", () => {
  it("lets only a listed approver approve, as themselves; the decision records who, when and why", async () => {
    const runId = await startRun("alice");
    const path = `/api/runs/${runId}/tasks/deploy/approve`;
    expect((await as("carol", "POST", path, {})).status).toBe(403);
    expect((await bootstrap("POST", path, { by: "alice" })).status).toBe(403);
    const impersonating = await as("alice", "POST", path, { by: "bob" });
    expect(impersonating.status).toBe(403);
    expect(((await impersonating.json()) as { error: string }).error).toMatch(/"by" says bob/);
    // bob is listed by his verified email.
    const approved = await as("bob", "POST", path, { comment: "go" });
    expect(approved.status).toBe(200);
    const task = ((await approved.json()) as RunView).stages[0]?.tasks[0];
    expect(task?.approval).toMatchObject({
      decision: "approved",
      by: "bob",
      email: "bob@example.com",
      comment: "go",
    });
    expect(Date.parse(task?.approval?.at as string)).toBeGreaterThan(0);
    const done = await driveRun(system, runId);
    expect(done.status).toBe("succeeded");
  });

  it("refuses the person who started the run when self-approval is off", async () => {
    const runId = await startRun("alice");
    const self = await as("alice", "POST", `/api/runs/${runId}/tasks/deploy/approve`, {});
    expect(self.status).toBe(403);
    expect(((await self.json()) as { error: string }).error).toMatch(/refuses self-approval/);
    expect((await as("bob", "POST", `/api/runs/${runId}/tasks/deploy/deny`, { comment: "no" })).status).toBe(
      200,
    );
  });

  it.each([
    ["skip", "succeeded", "skipped"],
    ["deny", "failed", "failed"],
  ] as const)(
    "times out: onTimeout %s ends the task, the run goes on and frees its group",
    async (onTimeout, runStatus, taskStatus) => {
      const name = `timeout-${onTimeout}`;
      const pipeline = GATED.replace("name: gated", `name: ${name}`)
        .replace("concurrency: { group: gated }", `concurrency: { group: ${name} }`)
        .replace("allowSelfApproval: false", `timeoutSeconds: 600, onTimeout: ${onTimeout}`);
      expect((await bootstrap("PUT", `/api/pipelines/${name}`, pipeline)).status).toBe(201);
      const first = ((await (await as("bob", "POST", `/api/pipelines/${name}/runs`, {})).json()) as RunView)
        .id;
      await driveRun(system, first, { done: (r) => r.status === "waiting" });
      const second = ((await (await as("bob", "POST", `/api/pipelines/${name}/runs`, {})).json()) as RunView)
        .id;
      await driveRun(system, second, { done: (r) => r.reason === "WaitingForGroup" });
      skewMs = 601_000;
      try {
        // The reconciler's tick is a reconcile of every active run: that alone decides the timeout.
        await system.commands.handle(first, { type: "reconcile" }, SCHEDULER);
        const ended = await driveRun(system, first);
        expect(ended.status).toBe(runStatus);
        const deploy = ended.stages[0]?.tasks[0];
        expect(deploy).toMatchObject({ status: taskStatus, reason: "ApprovalTimedOut" });
        expect(ended.stages[0]?.tasks[1]?.status).toBe(onTimeout === "skip" ? "succeeded" : "skipped");
        const next = await driveRun(system, second, { done: (r) => r.status === "waiting" });
        expect(next.startedAt).toBeDefined();
      } finally {
        skewMs = 0;
      }
    },
  );
});

describe("tokens", () => {
  it("makes a token shown once that acts as its person; revoked, it stops at once with the reason", async () => {
    const made = await as("bob", "POST", "/api/tokens", { name: "laptop", expiresInDays: 30 });
    expect(made.status).toBe(201);
    const { id, token } = (await made.json()) as { id: string; token: string };
    const me = await withToken(token, "GET", "/api/me");
    expect(((await me.json()) as { name: string }).name).toBe("bob");
    const listed = JSON.stringify(await (await as("bob", "GET", "/api/tokens")).json());
    expect(listed).toContain(id);
    expect(listed).not.toContain(token.slice("hft_".length + 17));
    expect((await withToken(token, "PUT", "/api/pipelines/gated", {})).status).toBe(403);
    expect((await as("carol", "DELETE", `/api/tokens/${id}`)).status).toBe(404);
    expect((await as("bob", "DELETE", `/api/tokens/${id}`)).status).toBe(200);
    const after = await withToken(token, "GET", "/api/me");
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toMatch(/revoked at .* by bob/);
  });

  it("answers an expired token 401 saying so; a service token cannot approve; `for` is refused with sign-in", async () => {
    const made = (await (
      await as("carol", "POST", "/api/tokens", { name: "short", expiresInDays: 1 })
    ).json()) as {
      token: string;
    };
    skewMs = 2 * 86_400_000;
    try {
      const expired = await withToken(made.token, "GET", "/api/me");
      expect(expired.status).toBe(401);
      expect(((await expired.json()) as { error: string }).error).toMatch(/expired at/);
    } finally {
      skewMs = 0;
    }
    const service = (await (await bootstrap("POST", "/api/tokens", { name: "deployer" })).json()) as {
      token: string;
    };
    const runId = await startRun("bob");
    const approve = await withToken(service.token, "POST", `/api/runs/${runId}/tasks/deploy/approve`, {});
    expect(approve.status).toBe(403);
    expect(((await approve.json()) as { error: string }).error).toMatch(/service token, not a person/);
    expect((await withToken(service.token, "POST", `/api/runs/${runId}/cancel`)).status).toBe(200);
    expect((await bootstrap("POST", "/api/tokens", { name: "x", for: "alice" })).status).toBe(400);
  });
});

describe("audit", () => {
  it("shows every change and control action with its actor, refused attempts included, newest first, paged", async () => {
    const pipeline = GATED.replace("after,", "after2,");
    expect((await as("alice", "PUT", "/api/pipelines/gated", pipeline)).status).toBe(200);
    const old = await as("carol", "GET", "/api/pipelines/gated?version=1");
    expect(old.status).toBe(200);
    expect(JSON.stringify(await old.json())).toContain('"after"');
    const all: Array<{
      actor: string;
      action: string;
      outcome: string;
      target: string;
      detail?: Record<string, unknown>;
    }> = [];
    let cursor: string | undefined;
    do {
      const page = await as("alice", "GET", `/api/audit?limit=7${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      const body = (await page.json()) as { items: typeof all; cursor?: string };
      all.push(...body.items);
      cursor = body.cursor;
    } while (cursor);
    const seen = (actor: string, action: string, outcome: string) =>
      all.some((e) => e.actor === actor && e.action === action && e.outcome === outcome);
    expect(all[0]).toMatchObject({
      actor: "alice",
      action: "pipeline.put",
      outcome: "allowed",
      target: "pipeline/gated",
    });
    expect(all[0]?.detail).toMatchObject({ previousVersion: 1, version: 2, via: "session" });
    expect(seen("bootstrap", "pipeline.put", "allowed")).toBe(true);
    expect(seen("bob", "pipeline.put", "refused")).toBe(true);
    expect(seen("bob", "run.start", "allowed")).toBe(true);
    expect(seen("carol", "run.cancel", "refused")).toBe(true);
    expect(seen("bob", "run.cancel", "allowed")).toBe(true);
    expect(seen("service:deployer", "run.cancel", "allowed")).toBe(true);
    expect(seen("bob", "task.approve", "allowed")).toBe(true);
    expect(seen("bob", "task.deny", "allowed")).toBe(true);
    expect(seen("alice", "task.approve", "refused")).toBe(true);
    expect(seen("carol", "task.approve", "refused")).toBe(true);
    expect(seen("bootstrap", "task.approve", "refused")).toBe(true);
    expect(seen("bob", "token.create", "allowed")).toBe(true);
    expect(seen("bob", "token.revoke", "allowed")).toBe(true);
    expect(seen("carol", "token.revoke", "refused")).toBe(true);
    expect((await as("alice", "GET", "/api/audit?cursor=bm9wZQ")).status).toBe(400);
  });
});

describe("hookflow login", () => {
  it("signs the CLI in through the loopback redirect and keeps a token that acts as the person", async () => {
    const configDir = mkdtempSync(join(tmpdir(), "hookflow-login-"));
    const server = await new Promise<ServerType>((done) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => done(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const child = spawn(process.execPath, [BIN, "login"], {
        env: { PATH: process.env.PATH, HOOKFLOW_URL: url, HOOKFLOW_CONFIG_DIR: configDir },
      });
      let stderr = "";
      let stdout = "";
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
      });
      const link = await new Promise<URL>((resolve, reject) => {
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
          const found = /(http:\/\/\S+\/auth\/login\?\S+)/.exec(stderr)?.[1];
          if (found) resolve(new URL(found));
        });
        child.on("exit", () => reject(new Error(`hookflow login ended: ${stderr}`)));
      });
      expect(link.searchParams.get("cli_port")).toMatch(/^\d+$/);
      const signedIn = await signInAs(app as never, "bob", users.bob?.password as string, link.search);
      expect(signedIn.landed).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
      expect((await fetch(signedIn.landed)).status).toBe(200);
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect({ code, stdout }).toMatchObject({ code: 0, stdout: expect.stringMatching(/^signed in; token/) });
      const stored = JSON.parse(readFileSync(join(configDir, "credentials.json"), "utf8")) as Record<
        string,
        { token: string }
      >;
      expect(statSync(join(configDir, "credentials.json")).mode & 0o777).toBe(0o600);
      const me = await withToken(stored[url]?.token as string, "GET", "/api/me");
      expect(((await me.json()) as { name: string }).name).toBe("bob");
    } finally {
      server.close();
      rmSync(configDir, { recursive: true, force: true });
    }
  });

  it("falls back to a one-time code shown to paste, worth a token only once and only with the verifier", async () => {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const signedIn = await signInAs(
      app as never,
      "carol",
      users.carol?.password as string,
      `?cli_challenge=${challenge}&cli_state=pastepaste`,
    );
    const code = signedIn.landed.replace(/^code:/, "");
    const exchange = (v: string) => send("POST", "/auth/cli/token", {}, { code, verifier: v });
    expect((await exchange(randomBytes(32).toString("base64url"))).status).toBe(401);
    const signedOut = await signInAs(
      app as never,
      "carol",
      users.carol?.password as string,
      `?cli_challenge=${challenge}&cli_state=pastepaste`,
    );
    const second = signedOut.landed.replace(/^code:/, "");
    const made = await send("POST", "/auth/cli/token", {}, { code: second, verifier });
    expect(made.status).toBe(201);
    const { token } = (await made.json()) as { token: string };
    expect(((await (await withToken(token, "GET", "/api/me")).json()) as { name: string }).name).toBe(
      "carol",
    );
    expect((await send("POST", "/auth/cli/token", {}, { code: second, verifier })).status).toBe(401);
  });
});
