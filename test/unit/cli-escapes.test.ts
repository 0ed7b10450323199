import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../../core/cli/context.js";
import { runCli } from "../../core/cli/program.js";
import type { RunView } from "../../core/engine/view.js";

/** What a pusher controls, written to act on the terminal of whoever reads `hookflow status`. */
const OSC_TITLE = "\u001b]0;owned\u0007";
const CLEAR = "\u001b[2J";
const FAKE_GREEN = "\u001b[32msucceeded\u001b[0m";
const RLO = "\u202e";
const BRANCH = `fix/${OSC_TITLE}${RLO}gpj.exe`;
const T0 = Date.parse("2026-03-01T12:00:00Z");

function hostileRun(): RunView {
  return {
    id: "r1",
    pipeline: "hello",
    status: "failed",
    reason: "Failed",
    message: `task unit failed${CLEAR}`,
    trigger: {
      provider: "github",
      event: "push",
      repository: "acme/hello",
      cloneUrl: "https://github.com/acme/hello.git",
      ref: `refs/heads/${BRANCH}`,
      branch: BRANCH,
      commit: "0123456789abcdef0123456789abcdef01234567",
      message: `looks fine ${FAKE_GREEN}\rOVERWRITTEN`,
      author: `Mallory\u0085\u2066`,
    },
    appVersion: "x",
    params: {},
    round: 0,
    stages: [
      {
        name: "check",
        parallel: false,
        status: "failed",
        tasks: [
          {
            name: "unit",
            status: "failed",
            reason: "Failed",
            attempt: 1,
            outputs: {},
            message: `exit 1 ${FAKE_GREEN}\r${OSC_TITLE}`,
            startedAt: new Date(T0).toISOString(),
            finishedAt: new Date(T0 + 2000).toISOString(),
          },
        ],
      },
    ],
    deliveryFailures: [],
    createdAt: new Date(T0).toISOString(),
    startedAt: new Date(T0).toISOString(),
    finishedAt: new Date(T0 + 3000).toISOString(),
    updatedAt: new Date(T0 + 3000).toISOString(),
  } as RunView;
}

/** An io whose API answers every request with `answer(path)`. */
function fakeIo(answer: (path: string) => Response, isTTY = false) {
  const written = { stdout: "", stderr: "" };
  const io: CliIo = {
    stdout: { isTTY, columns: 200, write: (s: string) => (written.stdout += s) },
    stderr: { write: (s: string) => (written.stderr += s) },
    env: { HOOKFLOW_API_TOKEN: "t" },
    cwd: tmpdir(),
    fetch: async (url) => answer(new URL(String(url)).pathname),
    sleep: async () => {},
    now: () => T0 + 5000,
    userName: () => "tester",
  };
  return { io, written };
}
const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

/** Control characters a terminal acts on; a line feed and the CLI's own colours are counted apart. */
const CONTROLS = /[^\P{Cc}\n]|[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the CLI's colour codes start with ESC.
const OWN_COLOURS = /\u001b\[(?:\d+(?:;\d+)*)?m/g;
const withoutOwnColours = (text: string) => text.replace(OWN_COLOURS, "");

describe("the CLI shows outside text with its control characters escaped", () => {
  it("status: branch, messages and author are escaped, nothing reaches the terminal raw", async () => {
    const { io, written } = fakeIo(() => json(hostileRun()));
    expect(await runCli(["status", "r1"], io)).toBe(0);
    expect(written.stdout).not.toMatch(CONTROLS);
    expect(written.stdout).toContain("fix/\\x1b]0;owned\\x07\\u202egpj.exe");
    expect(written.stdout).toContain("exit 1 \\x1b[32msucceeded\\x1b[0m\\x0d\\x1b]0;owned\\x07");
    expect(written.stdout).toContain("task unit failed\\x1b[2J");
  });

  it("status on a terminal: the CLI's own colours only", async () => {
    const { io, written } = fakeIo(() => json(hostileRun()), true);
    expect(await runCli(["status", "r1"], io)).toBe(0);
    expect(withoutOwnColours(written.stdout)).not.toMatch(CONTROLS);
    // The injected green is shown as text, not as a colour: the only colour codes are the CLI's.
    expect(written.stdout).not.toContain(FAKE_GREEN);
  });

  it("status --watch, runs and run: the same", async () => {
    const watch = fakeIo(() => json(hostileRun()));
    expect(await runCli(["status", "r1", "--watch"], watch.io)).toBe(1);
    expect(watch.written.stdout).not.toMatch(CONTROLS);
    const runs = fakeIo(() => json({ items: [hostileRun()], cursor: `c${CLEAR}` }));
    expect(await runCli(["runs"], runs.io)).toBe(0);
    expect(runs.written.stdout + runs.written.stderr).not.toMatch(CONTROLS);
    expect(runs.written.stdout).toContain("\\u202egpj.exe");
    const started = fakeIo(() => json({ ...hostileRun(), status: "pending" }, 201));
    expect(await runCli(["run", "hello"], started.io)).toBe(0);
    expect(started.written.stdout).not.toMatch(CONTROLS);
  });

  it("an error the API answers is escaped too", async () => {
    const { io, written } = fakeIo(() =>
      json({ error: `no run ${OSC_TITLE}`, issues: [{ path: "x", message: `bad ${RLO}` }] }, 404),
    );
    expect(await runCli(["status", "nope"], io)).toBe(1);
    expect(written.stderr).not.toMatch(CONTROLS);
    expect(written.stderr).toContain("no run \\x1b]0;owned\\x07\nx: bad \\u202e");
  });

  it("logs keep lines, tabs and colours, and escape every other control", async () => {
    const log = `step 1\n\u001b[31mred\u001b[0m\tok\r${OSC_TITLE}${CLEAR}${RLO}\n`;
    const { io, written } = fakeIo(() => new Response(log, { headers: { "content-type": "text/plain" } }));
    expect(await runCli(["logs", "r1", "unit"], io)).toBe(0);
    expect(written.stdout).toBe("step 1\n\u001b[31mred\u001b[0m\tok\\x0d\\x1b]0;owned\\x07\\x1b[2J\\u202e\n");
  });

  it("--json prints the API's JSON as it is, for scripts", async () => {
    const { io, written } = fakeIo(() => json(hostileRun()));
    expect(await runCli(["status", "r1", "--json"], io)).toBe(0);
    expect(JSON.parse(written.stdout)).toEqual(hostileRun());
  });
});
