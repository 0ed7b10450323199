import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ServerType, serve } from "@hono/node-server";
import { expect, onTestFinished } from "vitest";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import type { CliIo } from "../../core/cli/context.js";
import { runCli } from "../../core/cli/program.js";
import type { Run } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { driveRun } from "./drive.js";
import { testSystem } from "./system.js";

export const CLI_TOKEN = "test-api-token";
export const CLI_FIXTURES = "test/fixtures/cli";
const BIN = resolve("core/cli/bin.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const startedId = (stdout: string) => /^started run (\w+) of /m.exec(stdout)?.[1] ?? "";
export const lines = (text: string) => text.trimEnd().split("\n");

/**
 * hookflow's API served over HTTP for one test, on a table and queue of its own and the local runner, and the
 * CLI binary pointed at it. Everything is torn down when the test ends, so no test depends on another.
 */
export async function cliStack() {
  const dataDir = mkdtempSync(join(tmpdir(), "hookflow-cli-"));
  const emptyDir = mkdtempSync(join(tmpdir(), "hookflow-cli-empty-"));
  const runner = createLocalRunner({ dataDir });
  const system = await testSystem({ runner, env: { HOOKFLOW_ROLES: JSON.stringify({ viewer: ["alice"] }) } });
  const app = createApiApp(system.api);
  // Approvals are a person's: no sign-in here, so the bootstrap token makes alice a token (as an admin would).
  const made = await app.request("/api/tokens", {
    method: "POST",
    headers: { authorization: `Bearer ${CLI_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "alice cli", for: "alice" }),
  });
  const aliceToken = ((await made.json()) as { token: string }).token;
  let server: ServerType | undefined;
  const port = await new Promise<number>((done) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => done(info.port));
  });
  onTestFinished(async () => {
    await new Promise((done) => server?.close(done));
    await runner.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const env = {
    HOOKFLOW_URL: url,
    HOOKFLOW_API_TOKEN: CLI_TOKEN,
    // So that no secrets.json of a local stack in this checkout stands in for the token.
    HOOKFLOW_DATA_DIR: emptyDir,
    HOOKFLOW_CONFIG_DIR: emptyDir,
  };

  /**
   * The CLI as a user runs it: its own process, talking HTTP to the API. Whatever it prints is checked for the
   * API token, so that every command of every test proves the token is never shown.
   */
  function start(args: string[], extraEnv: Record<string, string | undefined> = {}) {
    const output = { stdout: "", stderr: "" };
    const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR,
        ...env,
        ...extraEnv,
      },
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output.stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output.stderr += chunk.toString();
    });
    const done = new Promise<CliResult>((resolveResult, reject) => {
      child.on("error", reject);
      child.on("close", (code) => {
        if (`${output.stdout}${output.stderr}`.includes(CLI_TOKEN))
          reject(new Error(`hookflow ${args.join(" ")} printed the API token`));
        else resolveResult({ code, ...output });
      });
    });
    return { output, done };
  }

  /** The CLI run in this process against the same API: for what a test needs in place, not what it tests. */
  async function given(args: string[]): Promise<string> {
    let stdout = "";
    let stderr = "";
    const io: CliIo = {
      stdout: { isTTY: false, write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      // As alice (her token), so that a setup step may approve.
      env: args[0] === "approve" || args[0] === "deny" ? { ...env, HOOKFLOW_API_TOKEN: aliceToken } : env,
      cwd: process.cwd(),
      fetch,
      sleep: (ms) => sleep(ms),
      now: () => Date.now(),
      userName: () => "tester",
    };
    const code = await runCli(args, io);
    expect(code, `hookflow ${args.join(" ")}: ${stderr}`).toBe(0);
    return stdout;
  }

  const drive = (runId: string, done?: (run: Run) => boolean) =>
    driveRun(system, runId, { done, timeoutMs: 45_000 });

  const startRun = async (pipeline: string, ...args: string[]) =>
    startedId(await given(["run", pipeline, ...args]));

  return {
    system,
    url,
    aliceToken,
    start,
    cli: (args: string[], extraEnv?: Record<string, string | undefined>) => start(args, extraEnv).done,
    /** Applies test/fixtures/cli/apply: the job template greet, the pipelines hello and doomed. */
    applyFixtures: () => given(["apply", "-f", `${CLI_FIXTURES}/apply`]),
    /** Starts a run; returns its id. */
    startRun,
    given,
    drive,
    /** A run of hello (WHO=world, GREETING=hi) that alice approved and that succeeded. */
    async succeededHello(): Promise<string> {
      const id = await startRun("hello", "-p", "WHO=world", "-p", "GREETING=hi");
      await drive(id, (r) => r.status === "waiting");
      await given(["approve", id, "deploy"]);
      expect((await drive(id)).status).toBe("succeeded");
      return id;
    },
    /** A run of doomed whose unit task failed. */
    async failedDoomed(): Promise<string> {
      const id = await startRun("doomed");
      expect((await drive(id)).status).toBe("failed");
      return id;
    },
  };
}
