import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../../core/cli/context.js";
import { runCli } from "../../core/cli/program.js";
import { renderRun } from "../../core/cli/render.js";
import type { RunView } from "../../core/engine/view.js";
import { at, runView, T0, withTask } from "../helpers/run-views.js";

const TOKEN = "test-api-token";

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
  async function follow(
    answers: ReadonlyArray<readonly [RunView, string]>,
    asked: string[] = [],
  ): Promise<string> {
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
        if (String(input).includes("/logs")) {
          asked.push(String(input).slice(String(input).indexOf("/logs")));
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

  it("prints the rest of an attempt that ended (from its archive) before the next attempt's log", async () => {
    const first = withTask(runView({ status: "running" }), "compile", { status: "running", attempt: 1 });
    const second = withTask(runView({ status: "running" }), "compile", { status: "running", attempt: 2 });
    const done = withTask(runView({ status: "running" }), "compile", { status: "succeeded", attempt: 2 });
    const asked: string[] = [];
    const printed = await follow(
      [
        [first, "a1\n"],
        [second, "a1\nlast of attempt 1\n"],
        [second, "b1\n"],
        [done, "b1\nb2\n"],
      ],
      asked,
    );
    expect(printed).toBe("a1\nlast of attempt 1\nb1\nb2\n");
    expect(asked).toEqual(["/logs", "/logs?attempt=1", "/logs", "/logs"]);
  });
});
