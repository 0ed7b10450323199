import { describe, expect, it } from "vitest";
import { nextFollowUp, nextObservationAt } from "../../core/engine/follow-up.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";

const T = Date.parse("2026-01-01T00:00:00.000Z");
const instant = (seconds: number) => T + seconds * 1000;

describe("follow-up observations", () => {
  it.each([
    [0, 1],
    [0.5, 1],
    [1, 2],
    [1.9, 2],
    [2, 4],
    [5, 8],
    [7.9, 8],
    [8, 16],
    [16, 24],
    [23.9, 24],
    [61, 64],
    [3600, 3608],
  ])("%s s after submission, the next look is at %s s", (elapsed, next) => {
    expect(nextFollowUp(T, instant(elapsed))).toBe(instant(next));
  });

  it("is the earliest over the run's submitted, unfinished tasks, and none once nothing is out there", () => {
    const run = newRun({
      pipeline: pipeline({
        stages: [{ name: "s", parallel: true, tasks: [runTask("a"), runTask("b"), runTask("c")] }],
      }),
    });
    const a = taskState(run, "a");
    const b = taskState(run, "b");
    const c = taskState(run, "c");
    const at = (s: number) => new Date(instant(s)).toISOString();
    Object.assign(a, { status: "running", submittedAt: at(0) });
    Object.assign(b, { status: "queued", submittedAt: at(10) });
    Object.assign(c, { status: "succeeded", submittedAt: at(11) });
    // a: 12 s in, next at 16; b: 2 s in, next at 14; c has ended.
    expect(nextObservationAt(run, at(12))).toBe(at(14));
    Object.assign(a, { status: "succeeded" });
    Object.assign(b, { status: "failed" });
    expect(nextObservationAt(run, at(12))).toBeUndefined();
  });
});
