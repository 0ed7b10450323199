import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/wait.js";
import { jvmRunningFor, startStackProcess } from "./stack-process.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), "hookflow-e2e-"));
  dirs.push(dir);
  return dir;
}

describe("the local stack", () => {
  it("starts with `npm start`, runs the example pipeline from a signed push, and stops on Ctrl-C leaving no JVM", async () => {
    const dir = dataDir();
    // As a directory made by hand or by an earlier version would be: readable by every user.
    chmodSync(dir, 0o755);
    const stack = await startStackProcess(["npm", "start"], { HOOKFLOW_DATA_DIR: dir });
    try {
      const modeOf = (path: string) => statSync(path).mode & 0o777;
      expect([modeOf(dir), modeOf(join(dir, "dynamodb")), modeOf(join(dir, "secrets.json"))]).toEqual([
        0o700, 0o700, 0o600,
      ]);
      expect(stack.output()).toContain("API token");
      expect(stack.output()).toContain("npm run demo");
      expect(stack.output()).toContain(`console    ${stack.url}/runs`);
      const demo = await promisify(execFile)("npm", ["run", "-s", "demo"], {
        cwd: ROOT,
        env: { ...process.env, HOOKFLOW_URL: stack.url, HOOKFLOW_DATA_DIR: dir },
        timeout: 60_000,
      });
      expect(demo.stdout).toMatch(/signed push accepted \(202\)/);
      // The run's page, with the view grant its notifications would carry: it opens without sign-in.
      const page = /run page: (\S+\?grant=\S+)/.exec(demo.stdout)?.[1];
      expect(page, demo.stdout).toMatch(new RegExp(`^${stack.url}/runs/`));
      const opened = await fetch(page as string);
      expect(opened.status).toBe(200);
      expect(await opened.text()).toContain('id="run-status"');
      expect(demo.stdout).toMatch(/: succeeded\n/);
      expect(demo.stdout).toMatch(/IMAGE_TAG/);
    } finally {
      await stack.interrupt();
    }
    expect(await jvmRunningFor(dir)).toBe(false);
  }, 150_000);

  it("finishes the runs it had after being killed mid-run and restarted on its data directory", async () => {
    const dir = dataDir();
    const env = {
      HOOKFLOW_DATA_DIR: dir,
      HOOKFLOW_API_TOKEN: "e2e-token-0123456789",
      HOOKFLOW_GITHUB_SECRET: "e2e-github-secret",
    };
    const command = ["node", "--import", "tsx", "infra/local/main.ts"];
    const first = await startStackProcess(command, env);
    // Secrets the user gave are never printed.
    expect(first.output()).toContain("API token          from HOOKFLOW_API_TOKEN");
    expect(first.output()).not.toContain(env.HOOKFLOW_API_TOKEN);
    expect(first.output()).not.toContain(env.HOOKFLOW_GITHUB_SECRET);
    const api = (url: string, path: string, init: RequestInit = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${env.HOOKFLOW_API_TOKEN}`, ...init.headers },
      });
    // The task runs until the test opens its gate: it is still running whatever the machine's load.
    const gate = join(dir, "gate");
    const pipelineFile = join(dir, "slow.yaml");
    writeFileSync(
      pipelineFile,
      `name: slow
triggers: [{ provider: github, repository: acme/slow }]
stages:
  - name: one
    tasks: [{ name: long, run: { image: alpine, command: ["sh", "-c", "while [ ! -e '${gate}' ]; do sleep 0.1; done; echo RESULT=done > $HOOKFLOW_TERMINATION_LOG"] } }]
  - name: two
    tasks: [{ name: after, run: { image: alpine, command: ["sh", "-c", "echo got $RESULT"] } }]
`,
    );
    const put = await api(first.url, "/api/pipelines/slow", {
      method: "PUT",
      body: readFileSync(pipelineFile, "utf8"),
    });
    expect(put.status).toBe(201);
    const created = await api(first.url, "/api/pipelines/slow/runs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ commit: "c".repeat(40) }),
    });
    const { id } = (await created.json()) as { id: string };
    const status = async (url: string) =>
      (await (await api(url, `/api/runs/${id}`)).json()) as {
        status: string;
        stages: Array<{ tasks: Array<{ status: string; outputs: Record<string, string> }> }>;
      };
    await waitFor(() => status(first.url), {
      until: (run) => run.stages[0]?.tasks[0]?.status === "running",
      what: "the first task to run",
      timeoutMs: 60_000,
    });

    // The control plane dies outright: no shutdown, the task's process lives on, the JVM is orphaned.
    process.kill(first.child.pid as number, "SIGKILL");
    await new Promise((r) => first.child.once("exit", r));

    const second = await startStackProcess(command, env);
    try {
      writeFileSync(gate, "");
      const run = await waitFor(() => status(second.url), {
        until: (r) => ["succeeded", "failed", "canceled"].includes(r.status),
        what: "the run to end on the restarted stack",
        timeoutMs: 60_000,
      });
      expect(run.status).toBe("succeeded");
      expect(run.stages[0]?.tasks[0]?.outputs).toEqual({ RESULT: "done" });
    } finally {
      await second.interrupt();
    }
    expect(await jvmRunningFor(dir)).toBe(false);
  }, 150_000);
});
