import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stripVTControlCharacters } from "node:util";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { resolveConfig } from "../../core/cli/config.js";
import type { CliIo } from "../../core/cli/context.js";
import { formatIssue, splitFile } from "../../core/cli/documents.js";
import { runCli } from "../../core/cli/program.js";
import {
  fitWidth,
  PLAIN,
  pipelinesTable,
  renderRun,
  runChanges,
  runsTable,
  style,
  unseenLog,
} from "../../core/cli/render.js";
import type { TaskView } from "../../core/engine/index.js";
import type { RunView } from "../../core/engine/view.js";
import type { Pipeline } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { driveRun } from "../helpers/drive.js";
import { testSystem } from "../helpers/system.js";

const TOKEN = "test-api-token";
const BIN = resolve("core/cli/bin.js");
const FIXTURES = "test/fixtures/cli";
const T0 = Date.parse("2026-03-01T12:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

// ---------------------------------------------------------------------------------------------- factories

function task(name: string, overrides: Partial<TaskView> = {}): TaskView {
  return { name, status: "pending", reason: "Pending", attempt: 0, outputs: {}, ...overrides };
}

function runView(overrides: Partial<RunView> = {}): RunView {
  return {
    id: "r1",
    pipeline: "hello",
    status: "running",
    reason: "Running",
    trigger: {
      provider: "github",
      event: "manual",
      repository: "acme/hello",
      cloneUrl: "https://github.com/acme/hello.git",
      ref: "refs/heads/main",
      branch: "main",
      commit: "0123456789abcdef0123",
      message: "manual run",
      author: "",
    },
    appVersion: "main-0123456",
    params: {},
    round: 0,
    stages: [
      {
        name: "build",
        parallel: true,
        status: "succeeded",
        tasks: [
          task("compile", {
            status: "succeeded",
            reason: "Succeeded",
            attempt: 1,
            startedAt: at(1),
            finishedAt: at(3.5),
          }),
        ],
      },
      {
        name: "ship",
        parallel: false,
        status: "waiting",
        tasks: [
          task("deploy", { status: "waiting", reason: "AwaitingApproval", approvers: ["alice", "bob"] }),
        ],
      },
    ],
    deliveryFailures: [],
    createdAt: at(0),
    startedAt: at(1),
    updatedAt: at(4),
    ...overrides,
  };
}

function withTask(view: RunView, name: string, patch: Partial<TaskView>): RunView {
  return {
    ...view,
    stages: view.stages.map((s) => ({
      ...s,
      tasks: s.tasks.map((t) => (t.name === name ? { ...t, ...patch } : t)),
    })),
  };
}

// ---------------------------------------------------------------------------------------------- pure parts

describe("rendering", () => {
  it("shows a run as a header and its stages with their tasks, status, attempt, time and message", () => {
    expect(renderRun(runView(), T0 + 10_000)).toEqual([
      "run r1 · pipeline hello · running · 9.0s",
      "trigger manual · github acme/hello · refs/heads/main · 0123456789ab",
      "created 2026-03-01T12:00:00Z",
      "",
      "STAGE / TASK      STATUS     ATTEMPT  TIME  MESSAGE",
      "build (parallel)  succeeded",
      "  compile         succeeded  1        2.5s",
      "ship              waiting",
      "  deploy          waiting    0        -     awaiting approval by alice, bob",
    ]);
    const failed = runView({
      status: "failed",
      message: "task deploy failed: denied",
      finishedAt: at(75),
      round: 2,
    });
    expect(renderRun(failed, T0)).toContain("message task deploy failed: denied");
    expect(renderRun(failed, T0)[0]).toBe("run r1 · pipeline hello · failed · 1m14s");
    expect(renderRun(failed, T0)[2]).toBe("created 2026-03-01T12:00:00Z · round 2");
  });

  it("colours statuses only when asked, keeping columns aligned", () => {
    const lines = renderRun(runView(), T0, style(true));
    expect(lines.join("\n")).toContain("\u001b[32msucceeded\u001b[0m");
    expect(lines.join("\n")).toContain("\u001b[33mwaiting  \u001b[0m");
    const strip = (l: string) => stripVTControlCharacters(l);
    expect(lines.map(strip)).toEqual(renderRun(runView(), T0, PLAIN));
    expect(renderRun(runView(), T0, PLAIN).join("")).not.toContain("\u001b");
  });

  it("says what changed between polls, one line each, for logs that are not a terminal", () => {
    const first = runView();
    expect(runChanges(undefined, first, T0)).toEqual([
      "build/compile succeeded",
      "ship/deploy waiting: awaiting approval by alice, bob",
      "run r1 (hello) running",
    ]);
    expect(runChanges(first, first, T0)).toEqual([]);
    // The API's own words for a task waiting for approval give way to the same line as above.
    const worded = withTask(first, "deploy", { message: "waiting for approval by alice or bob" });
    expect(runChanges(undefined, worded, T0)[1]).toBe("ship/deploy waiting: awaiting approval by alice, bob");
    const denied = withTask(
      { ...first, status: "failed", message: "task deploy failed: denied by bob", finishedAt: at(20) },
      "deploy",
      { status: "failed", attempt: 2, message: "denied by bob" },
    );
    expect(runChanges(first, denied, T0)).toEqual([
      "ship/deploy failed (attempt 2): denied by bob",
      "run r1 (hello) failed in 19s: task deploy failed: denied by bob",
    ]);
  });

  it("tabulates runs and pipelines", () => {
    const done = runView({ id: "abc", status: "succeeded", finishedAt: at(130) });
    const tagged = runView({
      id: "def",
      status: "pending",
      startedAt: undefined,
      trigger: { ...runView().trigger, ref: "refs/tags/v1", branch: undefined, tag: "v1" },
    });
    expect(runsTable([done, tagged], T0)).toEqual([
      "ID   PIPELINE  STATUS     REF     CREATED               DURATION",
      "abc  hello     succeeded  main    2026-03-01T12:00:00Z  2m09s",
      "def  hello     pending    tag v1  2026-03-01T12:00:00Z  -",
    ]);
    const pipeline = (name: string, triggers: Pipeline["triggers"], tasks: number[]) =>
      ({
        name,
        triggers,
        stages: tasks.map((n, i) => ({ name: `s${i}`, tasks: Array.from({ length: n }, () => ({})) })),
      }) as unknown as Pipeline;
    expect(
      pipelinesTable([
        pipeline(
          "web",
          [{ provider: "github", repository: "acme/web", events: ["push", "tag"], tags: ["v*"] }],
          [2, 1],
        ),
        pipeline("nightly", [], [1]),
      ]),
    ).toEqual([
      "NAME     TRIGGERS                           STAGES  TASKS",
      "web      github:acme/web push+tag (tag v*)  2       3",
      "nightly  manual only                        1       1",
    ]);
  });

  it("cuts lines to a terminal's width without breaking colour codes", () => {
    expect(fitWidth("abcdef", 4)).toBe("abcd");
    expect(fitWidth("\u001b[32msucceeded\u001b[0m!", 4)).toBe("\u001b[32msucc\u001b[0m");
    expect(fitWidth("short", 10)).toBe("short");
  });

  it("finds the unseen part of a log, also after the runner dropped its oldest part", () => {
    expect(unseenLog("", "a\n")).toBe("a\n");
    expect(unseenLog("a\nb\n", "a\nb\nc\n")).toBe("c\n");
    expect(unseenLog("one\ntwo\nthree\n", "two\nthree\nfour\n")).toBe("four\n");
    // Cut in the middle of a line, past the first 64 characters, or with nothing of the old part left.
    expect(unseenLog("one\ntwo\n", "ne\ntwo\nthree\n")).toBe("three\n");
    const long = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join("");
    expect(unseenLog(long, `${long.slice(13)}new\n`)).toBe("new\n");
    expect(unseenLog("old\n", "new\n")).toBe("new\n");
  });
});

describe("reading definitions for apply", () => {
  const text = [
    "# first",
    "name: build",
    "template: { apiVersion: batch/v1 }",
    "---",
    "name: web",
    "stages:",
    "  - name: a",
    "    tasks: [{ name: x }]",
    "---",
    "just: a map",
    "---",
    "name: [unclosed",
  ].join("\n");

  it("splits documents, keeps their text, and places the API's paths and lines in the file", async () => {
    const { definitions, problems } = await splitFile("defs.yaml", text);
    expect(definitions.map((d) => [d.kind, d.name, d.firstLine])).toEqual([
      ["job", "build", 2],
      ["pipeline", "web", 4],
    ]);
    const web = definitions[1]!;
    expect(web.text).toBe("---\nname: web\nstages:\n  - name: a\n    tasks: [{ name: x }]\n");
    expect(formatIssue(web, { path: "stages[0].tasks[0]", message: "bad task" })).toBe(
      "defs.yaml:8: stages[0].tasks[0]: bad task",
    );
    // A missing field points at its parent; the API's own line counts within the document.
    expect(formatIssue(web, { path: "stages[0].tasks[0].run", message: "m" })).toBe(
      "defs.yaml:8: stages[0].tasks[0].run: m",
    );
    expect(formatIssue(web, { path: "name", message: "m", line: 2 })).toBe("defs.yaml:5: name: m");
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^defs\.yaml:10: neither a pipeline/);
    expect(problems[1]).toMatch(/^defs\.yaml:12: YAML syntax error/);
  });
});

describe("configuration", () => {
  it("takes the token from HOOKFLOW_API_TOKEN, else from the local stack's secrets file, else none", () => {
    const files: Record<string, string> = { "/w/.hookflow/secrets.json": '{"apiToken":"from-file"}' };
    const readFile = (path: string) => {
      const found = files[path];
      if (found === undefined) throw new Error("ENOENT");
      return found;
    };
    expect(resolveConfig({}, "/w", readFile)).toEqual({
      baseUrl: "http://127.0.0.1:8787",
      token: "from-file",
    });
    expect(resolveConfig({ HOOKFLOW_API_TOKEN: "env" }, "/w", readFile).token).toBe("env");
    expect(resolveConfig({ HOOKFLOW_DATA_DIR: "/elsewhere" }, "/w", readFile).token).toBeUndefined();
    expect(() => resolveConfig({ HOOKFLOW_URL: "not a url" }, "/w", readFile)).toThrow(/HOOKFLOW_URL/);
  });

  it("sends the local stack's token only to the local stack, and refuses credentials in the URL", () => {
    const readFile = () => '{"apiToken":"from-file"}';
    expect(resolveConfig({ HOOKFLOW_URL: "http://localhost:8787" }, "/w", readFile).token).toBe("from-file");
    expect(resolveConfig({ HOOKFLOW_URL: "https://ci.example.com" }, "/w", readFile).token).toBeUndefined();
    const withCredentials = () =>
      resolveConfig({ HOOKFLOW_URL: "https://me:hunter2@ci.example.com" }, "/w", readFile);
    expect(withCredentials).toThrow(/must not hold credentials/);
    expect(withCredentials).not.toThrow(/hunter2/);
  });
});

describe("status --watch in-process", () => {
  /** The API's answers in turn: a run, or a status a gateway answers with on its own. */
  function fakeIo(views: Array<RunView | number>, stdout: { isTTY: boolean; columns?: number }, env = {}) {
    const written = { stdout: "", stderr: "" };
    let polls = 0;
    const io: CliIo = {
      stdout: { ...stdout, write: (s: string) => (written.stdout += s) },
      stderr: { write: (s: string) => (written.stderr += s) },
      env: { HOOKFLOW_API_TOKEN: TOKEN, ...env },
      cwd: tmpdir(),
      fetch: async () => {
        const view = views[Math.min(polls++, views.length - 1)];
        if (typeof view === "number") return new Response("Service Unavailable", { status: view });
        return new Response(JSON.stringify(view), { headers: { "content-type": "application/json" } });
      },
      sleep: async () => {},
      now: () => T0 + 5000,
      userName: () => "tester",
    };
    return { io, written, polls: () => polls };
  }
  const waiting = runView();
  const running = withTask({ ...waiting, status: "running" }, "deploy", { status: "running", attempt: 1 });
  const failed = withTask(
    { ...running, status: "failed", message: "task deploy failed", finishedAt: at(9) },
    "deploy",
    { status: "failed", message: "exit code 1" },
  );

  it("redraws the block in place on a terminal, in colour, and exits 1 when the run fails", async () => {
    const { io, written, polls } = fakeIo([waiting, running, failed], { isTTY: true, columns: 200 });
    expect(await runCli(["status", "r1", "--watch"], io)).toBe(1);
    expect(polls()).toBe(3);
    const block = renderRun(waiting, T0).length;
    const draws = written.stdout.split(`\r\u001b[${block}A`);
    expect(draws).toHaveLength(3);
    expect(draws[0]).not.toContain(`\u001b[${block}A`);
    expect(draws[2]).toContain("\u001b[31mfailed\u001b[0m");
    expect(written.stdout.endsWith("\u001b[J")).toBe(true);
  });

  it("prints plain successive lines when stdout is not a terminal, and honours NO_COLOR", async () => {
    const done = { ...running, status: "succeeded" as const, finishedAt: at(6) };
    const plain = fakeIo([waiting, running, done], { isTTY: false });
    expect(await runCli(["status", "r1", "--watch"], plain.io)).toBe(0);
    expect(plain.written.stdout).toBe(
      [
        "build/compile succeeded",
        "ship/deploy waiting: awaiting approval by alice, bob",
        "run r1 (hello) running",
        "ship/deploy running",
        "run r1 (hello) succeeded in 5.0s",
        "",
      ].join("\n"),
    );
    const noColour = fakeIo([failed], { isTTY: true }, { NO_COLOR: "1" });
    expect(await runCli(["status", "r1", "--watch"], noColour.io)).toBe(1);
    expect(noColour.written.stdout).not.toContain("\u001b[3");
  });

  it("keeps watching through a gateway's 503 while the run goes on, and still exits by the run", async () => {
    const done = { ...running, status: "succeeded" as const, finishedAt: at(6) };
    const flaky = fakeIo([waiting, 503, 502, running, 504, done], { isTTY: false });
    expect(await runCli(["status", "r1", "--watch"], flaky.io)).toBe(0);
    expect(flaky.polls()).toBe(6);
    expect(flaky.written.stdout).toContain("run r1 (hello) succeeded");
    const down = fakeIo([waiting, 503], { isTTY: false });
    expect(await runCli(["status", "r1", "--watch"], down.io)).toBe(1);
    expect(down.polls()).toBe(11);
    expect(down.written.stderr).toMatch(/503/);
  });
});

describe("logs --follow in-process", () => {
  const active = withTask(runView({ status: "running" }), "compile", { status: "running" });
  const finished = withTask(runView({ status: "running" }), "compile", { status: "succeeded" });

  /** Follows `compile`'s log while the API answers `answers` in turn; returns what was printed. */
  async function follow(answers: ReadonlyArray<readonly [RunView, string]>): Promise<string> {
    let poll = 0;
    let written = "";
    const io: CliIo = {
      stdout: { isTTY: false, write: (s: string) => (written += s) },
      stderr: { write: () => true },
      env: { HOOKFLOW_API_TOKEN: TOKEN },
      cwd: tmpdir(),
      fetch: async (input) => {
        const answer = answers[Math.min(poll, answers.length - 1)];
        if (!answer) throw new Error("no answers");
        const [view, log] = answer;
        if (String(input).endsWith("/logs")) {
          poll++;
          return new Response(log, { headers: { "content-type": "text/plain" } });
        }
        return new Response(JSON.stringify(view), { headers: { "content-type": "application/json" } });
      },
      sleep: async () => {},
      now: () => T0,
      userName: () => "tester",
    };
    expect(await runCli(["logs", "r1", "compile", "--follow"], io)).toBe(0);
    return written;
  }

  it("does not print the log again when it reads empty for a moment (a container restarting)", async () => {
    const printed = await follow([
      [active, "one\n"],
      [active, ""],
      [active, "one\ntwo\n"],
      [finished, "one\ntwo\nthree\n"],
    ]);
    expect(printed).toBe("one\ntwo\nthree\n");
  });

  it("prints each line once when the API answers only the newest part of a long log", async () => {
    const cut = (bytes: number) => `[… ${bytes} bytes before this are not shown: use ?tail=N]\n`;
    const printed = await follow([
      [active, "one\ntwo\n"],
      [active, `${cut(4)}two\nthree\n`],
      [finished, `${cut(8)}three\nfour\n`],
    ]);
    expect(printed).toBe("one\ntwo\nthree\nfour\n");
  });
});

// ---------------------------------------------------------------------------------------------- the binary

type System = Awaited<ReturnType<typeof testSystem>>;
let system: System;
let runner: ReturnType<typeof createLocalRunner>;
let server: ServerType;
let url: string;
let dataDir: string;
let emptyDir: string;
const everything: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hookflow-cli-"));
  emptyDir = mkdtempSync(join(tmpdir(), "hookflow-cli-empty-"));
  runner = createLocalRunner({ dataDir });
  system = await testSystem({ runner });
  const app = createApiApp(system.api);
  const port = await new Promise<number>((done) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => done(info.port));
  });
  url = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await new Promise((done) => server?.close(done));
  await runner?.stopAll();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: its own process, talking HTTP to the API served by this test process. */
function start(args: string[], env: Record<string, string | undefined> = {}) {
  const output = { stdout: "", stderr: "" };
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      HOOKFLOW_URL: url,
      HOOKFLOW_API_TOKEN: TOKEN,
      // So that no secrets.json of a local stack in this checkout stands in for the token.
      HOOKFLOW_DATA_DIR: emptyDir,
      ...env,
    },
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const done = new Promise<Result>((resolveResult, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      everything.push(output.stdout, output.stderr);
      resolveResult({ code, ...output });
    });
  });
  return { output, done };
}

const cli = (args: string[], env?: Record<string, string | undefined>) => start(args, env).done;

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const startedId = (stdout: string) => /^started run (\w+) of /m.exec(stdout)?.[1] ?? "";
const lines = (text: string) => text.trimEnd().split("\n");

describe("the hookflow binary", () => {
  let helloRun = "";
  let doomedRun = "";

  it("applies a directory, job templates first: created, then updated, with warnings at their lines", async () => {
    const first = await cli(["apply", "-f", `${FIXTURES}/apply`]);
    expect(first).toMatchObject({ code: 0 });
    expect(lines(first.stdout)).toEqual([
      "job/greet created",
      "pipeline/hello created",
      "pipeline/doomed created",
    ]);
    expect(first.stderr).toBe(
      `warning: ${FIXTURES}/apply/pipelines.yaml:13: stages[1].tasks[0].params: required param WHO of job ` +
        `"greet" is not set here; the run must provide it\n`,
    );
    const second = await cli(["apply", "-f", `${FIXTURES}/apply/pipelines.yaml`, "-f", `${FIXTURES}/apply`]);
    expect(second.code).toBe(0);
    expect(lines(second.stdout)).toEqual([
      "job/greet updated",
      "pipeline/hello updated",
      "pipeline/doomed updated",
      "pipeline/hello updated",
      "pipeline/doomed updated",
    ]);
  });

  it("refuses an invalid document with file:line: path: message and exit 1, applying the valid ones", async () => {
    const res = await cli(["apply", "-f", `${FIXTURES}/invalid.yaml`]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("job/noop created\n");
    const file = `${FIXTURES}/invalid.yaml`;
    expect(lines(res.stderr)).toEqual([
      "error: pipeline/broken: pipeline broken is invalid",
      expect.stringMatching(new RegExp(`^${file}:14: stages\\[0\\]\\.tasks\\[0\\]\\.retries: `)),
      `${file}:15: stages[0].tasks[1]: a task has exactly one of \`run\` or \`job\``,
    ]);
    expect(await system.stores.definitions.getPipeline("broken")).toBeUndefined();

    const dir = mkdtempSync(join(tmpdir(), "hookflow-cli-bad-"));
    writeFileSync(join(dir, "a.yaml"), "name: fine\ntemplate: {}\n---\nname: x\nstages: [\n");
    const local = await cli(["apply", "-f", dir]);
    expect(local.code).toBe(1);
    expect(local.stdout).toBe("");
    expect(local.stderr).toMatch(new RegExp(`^${dir}/a\\.yaml:5: YAML syntax error`));
    expect(local.stderr).toContain("error: nothing applied");
    expect(await system.stores.definitions.getJob("fine")).toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
    expect(await cli(["apply", "-f", "no/such/dir"])).toMatchObject({
      code: 1,
      stderr: "error: no/such/dir: no such file or directory\n",
    });
    expect((await cli(["apply"])).code).toBe(2);
  });

  it("lists pipelines as a table, or as JSON", async () => {
    const res = await cli(["pipelines"]);
    expect(res.code).toBe(0);
    const table = lines(res.stdout);
    expect(table[0]).toMatch(/^NAME\s+TRIGGERS\s+STAGES\s+TASKS$/);
    expect(table).toContainEqual(expect.stringMatching(/^hello\s+github:acme\/hello push \(main\)\s+2\s+3$/));
    expect(table).toContainEqual(expect.stringMatching(/^doomed\s+manual only\s+2\s+2$/));
    const json = JSON.parse((await cli(["pipelines", "--json"])).stdout) as { items: Pipeline[] };
    expect(json.items.map((p) => p.name).sort()).toEqual(["doomed", "hello"]);
  });

  it("starts a run with params and a ref, printing its id and how to follow it", async () => {
    const bad = await cli(["run", "hello", "--param", "GREETING=yo"]);
    expect(bad).toMatchObject({
      code: 1,
      stderr: "error: invalid params\nparams.GREETING: must be one of hello, hi\n",
    });
    expect((await cli(["run", "hello", "--param", "GREETING"])).code).toBe(2);
    expect(await cli(["run", "nope"])).toMatchObject({ code: 1, stderr: "error: no pipeline nope\n" });

    const res = await cli(["run", "hello", "--param", "WHO=world", "-p", "GREETING=hi", "--ref", "release"]);
    expect(res.code).toBe(0);
    helloRun = startedId(res.stdout);
    expect(helloRun).not.toBe("");
    expect(res.stdout).toBe(
      `started run ${helloRun} of hello on refs/heads/release\nfollow it: hookflow status ${helloRun} --watch\n`,
    );
    expect((await system.stores.runs.getRun(helloRun))?.params).toEqual({ WHO: "world", GREETING: "hi" });

    const runs = await cli(["runs", "--pipeline", "hello"]);
    expect(runs.code).toBe(0);
    expect(lines(runs.stdout)[0]).toMatch(/^ID\s+PIPELINE\s+STATUS\s+REF\s+CREATED\s+DURATION$/);
    expect(lines(runs.stdout)[1]).toMatch(
      new RegExp(`^${helloRun}\\s+hello\\s+pending\\s+release\\s+\\d{4}-`),
    );
    expect(lines((await cli(["runs", "--pipeline", "doomed"])).stderr)).toEqual(["no runs"]);

    const status = await cli(["status", helloRun]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`run ${helloRun} · pipeline hello · pending`);
    expect(lines(status.stdout)).toContainEqual(expect.stringMatching(/^ {2}deploy\s+pending\s+0\s+-$/));
  });

  it("follows a run with status --watch to success, through an approval (403 for a non-approver)", async () => {
    const watch = start(["status", helloRun, "--watch"]);
    await driveRun(system, helloRun, { done: (r) => r.status === "waiting", timeoutMs: 20_000 });
    await until(() => watch.output.stdout.includes("ship/deploy waiting"), "the watch to see the approval");

    const stranger = await cli(["approve", helloRun, "deploy", "--by", "mallory"]);
    expect(stranger).toMatchObject({
      code: 1,
      stderr: "error: mallory may not approve deploy; approvers: alice\n",
    });
    const approved = await cli(["approve", helloRun, "deploy", "--comment", "ship it"], {
      HOOKFLOW_USER: "alice",
    });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(
      new RegExp(`^approved deploy as alice: run ${helloRun} \\(hello\\) is \\w+\n$`),
    );
    expect((await driveRun(system, helloRun, { timeoutMs: 20_000 })).status).toBe("succeeded");

    const watched = await watch.done;
    expect(watched.code).toBe(0);
    const seen = lines(watched.stdout);
    expect(seen).toContain("build/compile succeeded");
    expect(seen).toContain("ship/deploy waiting: awaiting approval by alice");
    expect(seen.at(-1)).toMatch(new RegExp(`^run ${helloRun} \\(hello\\) succeeded in \\d`));
  });

  it("prints a task's logs, the last lines with --tail", async () => {
    expect(await cli(["logs", helloRun, "compile", "--tail", "2"])).toMatchObject({
      code: 0,
      stdout: "line two\nline three\n",
    });
    expect((await cli(["logs", helloRun, "greet"])).stdout).toBe("hi world\n");
    expect(await cli(["logs", helloRun, "nope"])).toMatchObject({
      code: 1,
      stderr: `error: no task nope in run ${helloRun}\n`,
    });
    expect((await cli(["logs", helloRun, "compile", "--tail", "0"])).code).toBe(2);
  });

  it("exits 1 from --watch when the run fails, while logs --follow prints the output until the task ends", async () => {
    doomedRun = startedId((await cli(["run", "doomed"])).stdout);
    const watch = start(["status", doomedRun, "--watch"]);
    const follow = start(["logs", doomedRun, "unit", "--follow"]);
    expect((await driveRun(system, doomedRun, { timeoutMs: 20_000 })).status).toBe("failed");
    const [watched, followed] = await Promise.all([watch.done, follow.done]);
    expect(watched.code).toBe(1);
    // The message is the runner's own (the local runner's: core/adapters/local-runner.ts), shown as it is.
    expect(lines(watched.stdout)).toContain("test/unit failed: exited with code 3");
    expect(watched.stdout).toMatch(
      new RegExp(`run ${doomedRun} \\(doomed\\) failed in .*: task unit failed: exited with code 3\n$`),
    );
    expect(followed).toMatchObject({ code: 0, stdout: "boom\nbang\n" });
  });

  it("re-runs the failed tasks only, cancels, and refuses to cancel twice", async () => {
    const rerun = await cli(["rerun", doomedRun, "--failed-only"]);
    expect(rerun.code).toBe(0);
    expect(lines(rerun.stdout)[0]).toBe(`rerun started (round 1): run ${doomedRun} (doomed) is running`);
    const cancel = await cli(["cancel", doomedRun], { HOOKFLOW_USER: "carol" });
    expect(cancel).toMatchObject({
      code: 0,
      stdout: `cancel requested: run ${doomedRun} (doomed) is canceled\n`,
    });
    expect((await system.stores.runs.getRun(doomedRun))?.message).toBe("canceled by carol");
    expect(await cli(["cancel", doomedRun])).toMatchObject({
      code: 1,
      stderr: "error: run is already canceled\n",
    });
    expect((await cli(["status", doomedRun, "--watch"])).code).toBe(1);
  });

  it("reruns one task with what follows it, cancels that task alone, and keeps every earlier attempt", async () => {
    expect(await cli(["rerun", doomedRun, "--downstream"])).toMatchObject({
      code: 2,
      stderr: "error: --downstream needs --task\n",
    });
    const rerun = await cli(["rerun", doomedRun, "--task", "unit", "--downstream"]);
    expect(rerun.code).toBe(0);
    expect(lines(rerun.stdout)[0]).toBe(
      `rerun of unit started (round 2): run ${doomedRun} (doomed) is running`,
    );
    expect(await cli(["cancel", doomedRun, "--task", "unit"], { HOOKFLOW_USER: "carol" })).toMatchObject({
      code: 0,
      stdout: `task unit canceled: run ${doomedRun} (doomed) is failed\n`,
    });
    expect(await cli(["cancel", doomedRun, "--task", "unit"])).toMatchObject({
      code: 1,
      stderr: "error: run is already failed\n",
    });
    const [unit, summary] =
      (await system.stores.runs.getRun(doomedRun))?.stages.flatMap((s) => s.tasks) ?? [];
    expect(unit).toMatchObject({ status: "canceled", attempt: 3, message: "canceled by carol" });
    expect(summary).toMatchObject({ status: "skipped", reason: "UpstreamFailed" });
    expect(unit?.history?.map((h) => [h.attempt, h.round, h.status, h.message])).toEqual([
      [1, 0, "failed", "exited with code 3"],
      [2, 1, "canceled", "canceled by carol"],
    ]);
  });

  it("denies with a comment; runs filters by status and prints JSON", async () => {
    const id = startedId((await cli(["run", "hello", "--param", "WHO=you"])).stdout);
    await driveRun(system, id, { done: (r) => r.status === "waiting", timeoutMs: 20_000 });
    const denied = await cli(["deny", id, "deploy", "--by", "alice", "--comment", "not today"]);
    expect(denied).toMatchObject({
      code: 0,
      stdout: `denied deploy as alice: run ${id} (hello) is failed\n`,
    });
    const status = await cli(["status", id]);
    expect(status.stdout).toContain("message task deploy failed: denied by alice: not today");
    const page = JSON.parse(
      (await cli(["runs", "--status", "failed", "--pipeline", "hello", "--json"])).stdout,
    ) as {
      items: RunView[];
    };
    expect(page.items.map((r) => r.id)).toEqual([id]);
    const limited = await cli(["runs", "--limit", "1"]);
    expect(lines(limited.stdout)).toHaveLength(2);
    expect(limited.stderr).toMatch(/^more: hookflow runs --limit 1 --cursor \S+\n$/);
  });

  it("explains a refused token, an unreachable API and an unknown run; finds the local stack's token", async () => {
    const refused = await cli(["pipelines"], { HOOKFLOW_API_TOKEN: "wrong-token" });
    expect(refused).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "error: the API refused the token: set HOOKFLOW_API_TOKEN (npm start prints it)\n",
    });
    expect((await cli(["pipelines"], { HOOKFLOW_API_TOKEN: undefined })).code).toBe(1);

    const stackDir = mkdtempSync(join(tmpdir(), "hookflow-cli-stack-"));
    writeFileSync(join(stackDir, "secrets.json"), JSON.stringify({ apiToken: TOKEN }));
    const fromFile = await cli(["pipelines"], { HOOKFLOW_API_TOKEN: undefined, HOOKFLOW_DATA_DIR: stackDir });
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toContain("hello");
    rmSync(stackDir, { recursive: true, force: true });

    const closed = await closedPort();
    const unreachable = await cli(["runs"], { HOOKFLOW_URL: `http://127.0.0.1:${closed}` });
    expect(unreachable).toMatchObject({
      code: 1,
      stderr: `error: cannot reach hookflow at http://127.0.0.1:${closed} (is it running? set HOOKFLOW_URL)\n`,
    });
    expect(await cli(["status", "nope"])).toMatchObject({ code: 1, stderr: "error: no run nope\n" });
  });

  it("never printed the token", () => {
    expect(everything.length).toBeGreaterThan(40);
    for (const text of everything) expect(text).not.toContain(TOKEN);
  });
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return port;
}
