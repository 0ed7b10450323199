import { describe, expect, it } from "vitest";
import { transition } from "../../core/engine/index.js";
import type { RunEvent } from "../../core/model/index.js";
import { newRun, play, started, T0 } from "../helpers/factories.js";

/** A run whose task "unit" ended as `end` says, reported by its callback. */
function endedWith(end: RunEvent) {
  return play(newRun(), [started(), { type: "task.started", task: "unit", attempt: 1 }, end]).run;
}

const succeeded: RunEvent = {
  type: "task.succeeded",
  task: "unit",
  attempt: 1,
  outputs: { VERSION: "1.2.3" },
};
const failed: RunEvent = { type: "task.failed", task: "unit", attempt: 1, message: "exit 1" };

describe("a report about a task that has ended", () => {
  it.each([
    ["the same success", succeeded, succeeded],
    [
      "the same success with outputs it already has, as lines",
      succeeded,
      { ...succeeded, outputs: "VERSION=1.2.3" },
    ],
    ["the same success with no outputs", succeeded, { type: "task.succeeded", task: "unit", attempt: 1 }],
    ["the same failure", failed, failed],
  ] as Array<[string, RunEvent, RunEvent]>)(
    "is a repeat when it says %s again: nothing changes",
    (_, end, again) => {
      const run = endedWith(end);
      const result = transition(run, again, T0);
      expect(result.ignored?.reason).toBe("Duplicate");
      expect(result.run).toBe(run);
      expect(result.effects).toEqual([]);
    },
  );

  it.each([
    ["success after a failure", failed, succeeded],
    ["failure after a success", succeeded, failed],
    ["success with another output value", succeeded, { ...succeeded, outputs: { VERSION: "9.9.9" } }],
    ["success with a new output", succeeded, { ...succeeded, outputs: { VERSION: "1.2.3", MORE: "x" } }],
    ["failure with another message", failed, { ...failed, message: "exit 2" }],
    ["running again", succeeded, { type: "task.started", task: "unit", attempt: 1 }],
  ] as Array<[string, RunEvent, RunEvent]>)("conflicts when it says %s", (_, end, other) => {
    const run = endedWith(end);
    const result = transition(run, other, T0);
    expect(result.ignored?.reason).toBe("TaskTerminal");
    expect(result.run).toBe(run);
  });
});
