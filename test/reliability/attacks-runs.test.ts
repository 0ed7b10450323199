import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../../core/cli/context.js";
import { runCli } from "../../core/cli/program.js";
import type { Run, TaskLaunch } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { createCallbackApp } from "../../functions/callback.js";
import { createWebhookApp } from "../../functions/webhook.js";
import { driveRun } from "../helpers/drive.js";
import { taskState } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";
import { deliver, fixture } from "../helpers/webhooks.js";

/**
 * Issue 13's attacks from inside a run, on the approved-deploy example as a user sets it up: the README's
 * definitions applied through the API app, a signed push into the webhook app, reports into the callback app
 * with the tokens the tasks were given, approval and cancel through the API, the scheduler's real handler on
 * the emulators. The image task reports outputs that try to take the deploy over; then a cancel races the
 * approved deploy, whose process still runs to success.
 */
const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
const API = "test-api-token";

describe("the approved-deploy example under attack from a task", () => {
  it("keeps the deploy's image, namespace and process env whatever the image task reports, and records a success that outran a cancel", async () => {
    const runner = new MemoryRunner();
    const system = await testSystem({
      runner,
      env: { HOOKFLOW_ROLES: JSON.stringify({ viewer: ["alice"] }) },
    });
    const api = createApiApp(system.api);
    const callback = createCallbackApp(system.callback);
    const call = (method: string, path: string, body: string, type = "application/json") =>
      api.request(path, { method, headers: { authorization: `Bearer ${API}`, "content-type": type }, body });
    for (const job of ["kaniko-build", "kubectl-deploy", "test-runner"])
      expect(
        (
          await call(
            "PUT",
            `/api/jobs/${job}`,
            readFileSync(join(EXAMPLES, "jobs", `${job}.yaml`), "utf8"),
            "application/yaml",
          )
        ).status,
      ).toBe(201);
    const webApp = readFileSync(join(EXAMPLES, "web-app.yaml"), "utf8");
    expect((await call("PUT", "/api/pipelines/web-app", webApp, "application/yaml")).status).toBe(201);

    const pushed = await deliver(createWebhookApp(system.webhook), "github", fixture("github-push"), {
      deliveryId: "deploy-me",
    });
    expect(pushed.status).toBe(202);
    const id = ((await pushed.json()) as { runs: Array<{ id: string }> }).runs[0]?.id as string;

    const only = (task: string): TaskLaunch => {
      const launches = runner.launchesOf(task);
      expect(launches, task).toHaveLength(1);
      return launches[0] as TaskLaunch;
    };
    const report = (launch: TaskLaunch, body: object) =>
      callback.request(new URL(launch.env.HOOKFLOW_CALLBACK_URL as string).pathname, {
        method: "POST",
        headers: {
          authorization: `Bearer ${launch.secretEnv.HOOKFLOW_TASK_TOKEN}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
    const submitted = (task: string) => (run: Run) => taskState(run, task).submittedAt !== undefined;

    await driveRun(system, id, { done: (r) => submitted("unit")(r) && submitted("lint")(r) });
    for (const task of ["unit", "lint"])
      expect((await report(only(task), { status: "succeeded" })).status).toBe(200);
    await driveRun(system, id, { done: submitted("image") });
    const attack = {
      IMAGE: "evil.example.com/backdoor",
      NAMESPACE: "kube-system",
      PATH: "/tmp/evil:/usr/bin",
      LD_PRELOAD: "/tmp/evil.so",
      BASH_ENV: "/tmp/evil.sh",
      NODE_OPTIONS: "--require /tmp/evil.js",
      GIT_SSH_COMMAND: "sh /tmp/evil.sh",
      HOOKFLOW_CALLBACK_URL: "https://evil.example.com/steal",
      IMAGE_DIGEST: "sha256:0123",
    };
    expect((await report(only("image"), { status: "succeeded", outputs: attack })).status).toBe(200);
    const waiting = await driveRun(system, id, { done: (r) => taskState(r, "deploy").status === "waiting" });
    expect(taskState(waiting, "image").message).toMatch(/^outputs refused: .*IMAGE.*PATH.*LD_PRELOAD/);
    const shownImage = await (
      await api.request(`/api/runs/${id}`, { headers: { authorization: `Bearer ${API}` } })
    ).text();
    expect(shownImage).toMatch(/outputs refused/);

    // Approvals are a person's: no sign-in here, so the bootstrap token makes alice a token (as an admin would).
    const made = await call("POST", "/api/tokens", JSON.stringify({ name: "alice", for: "alice" }));
    const aliceToken = ((await made.json()) as { token: string }).token;
    const approved = await api.request(`/api/runs/${id}/tasks/deploy/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(approved.status, await approved.clone().text()).toBe(200);
    await driveRun(system, id, { done: submitted("deploy") });
    const deploy = only("deploy");
    expect(deploy.env).toMatchObject({
      IMAGE: "registry.example.com/acme/web",
      NAMESPACE: "production",
      IMAGE_DIGEST: "sha256:0123",
    });
    expect(deploy.env.HOOKFLOW_CALLBACK_URL).not.toContain("evil");
    for (const name of ["PATH", "LD_PRELOAD", "BASH_ENV", "NODE_OPTIONS", "GIT_SSH_COMMAND"])
      expect({ ...deploy.env, ...deploy.secretEnv }).not.toHaveProperty(name);
    expect(JSON.stringify(deploy)).not.toContain("evil");

    // The cancel races the approved deploy: its process had already run to success, and says so afterwards.
    expect((await call("POST", `/api/runs/${id}/cancel`, JSON.stringify({ by: "bob" }))).status).toBe(200);
    const canceled = await driveRun(system, id, { done: (r) => r.status === "canceled" });
    expect(canceled.status).toBe("canceled");
    expect((await report(deploy, { status: "succeeded" })).status).toBe(200);
    const after = await system.stores.runs.getRun(id);
    expect(after?.status).toBe("canceled");
    expect(after && taskState(after, "deploy").status).toBe("succeeded");
    expect(runner.launchesOf("deploy")).toHaveLength(1);
  });
});

describe("a pusher's text on an operator's terminal", () => {
  it("the CLI, reading the real API, escapes the bidi and terminal controls a push carried", async () => {
    const system = await testSystem();
    const api = createApiApp(system.api);
    const put = await api.request("/api/pipelines/hello", {
      method: "PUT",
      headers: { authorization: `Bearer ${API}`, "content-type": "application/yaml" },
      body: 'name: hello\ntriggers: [{ provider: github, repository: acme/web-app }]\nstages: [{ name: s, tasks: [{ name: t, run: { image: alpine, command: ["true"] } }] }]\n',
    });
    expect(put.status).toBe(201);
    const branch = "fix/\u202egpj.exe";
    const push = fixture("github-push");
    const res = await deliver(
      createWebhookApp(system.webhook),
      "github",
      {
        ...push,
        ref: `refs/heads/${branch}`,
        head_commit: {
          ...(push.head_commit as object),
          message: "ok \u001b]0;owned\u0007\u001b[2J\u2066",
          author: { name: "Mallory\u0085", email: "m@x", username: "m" },
        },
      },
      { deliveryId: "bidi" },
    );
    expect(res.status).toBe(202);

    let out = "";
    const io: CliIo = {
      stdout: { isTTY: false, columns: 200, write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (out += s) },
      env: { HOOKFLOW_API_TOKEN: API, HOOKFLOW_URL: "http://hookflow.test" },
      cwd: tmpdir(),
      fetch: (url, init) =>
        Promise.resolve(api.request(new URL(String(url)).pathname + new URL(String(url)).search, init)),
      sleep: async () => {},
      now: () => Date.now(),
      userName: () => "tester",
    };
    for (const argv of [["runs"], ["status", "hello"]]) await runCli(argv, io);
    expect(out).toContain("gpj.exe"); // the run is listed
    expect(out).not.toMatch(/[^\P{Cc}\n]|[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u);
  });
});
