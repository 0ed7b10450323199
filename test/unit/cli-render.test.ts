import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
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
import type { Pipeline } from "../../core/model/index.js";
import { at, runView, T0, withTask } from "../helpers/run-views.js";

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
