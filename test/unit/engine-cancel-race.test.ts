import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { transition } from "../../core/engine/index.js";
import type { Run, RunEvent } from "../../core/model/index.js";
import { newRun, pipeline, play, runTask, started, succeed, T0, taskState } from "../helpers/factories.js";

const approvalPipeline = pipeline({
  stages: [
    { name: "build", tasks: [runTask("image")] },
    { name: "ship", tasks: [runTask("deploy", { approval: { approvers: ["alice"] } }), runTask("smoke")] },
  ],
});

/** A run whose deploy was approved and is running attempt 1. */
function deploying(): Run {
  const first = play(newRun({ pipeline: approvalPipeline }), [started()]);
  const built = play(first.run, succeed(first.run, "image"));
  return play(built.run, [
    { type: "approval.granted", task: "deploy", by: "alice" },
    { type: "task.started", task: "deploy", attempt: 1 },
  ]).run;
}

const cancel: RunEvent = { type: "cancel.requested", by: "carol" };
const success: RunEvent = {
  type: "task.succeeded",
  task: "deploy",
  attempt: 1,
  outputs: { ROLLED_OUT: "yes" },
};

describe("a cancel that races an approved task's success", () => {
  it.each([
    ["the cancel first", [cancel, success]],
    ["the success first", [success, cancel]],
  ])("records what the process did, with %s", (_, events) => {
    const { run } = play(deploying(), events);
    expect(run.status).toBe("canceled");
    expect(taskState(run, "deploy")).toMatchObject({
      status: "succeeded",
      reason: "Succeeded",
      outputs: { ROLLED_OUT: "yes" },
    });
    // What had not started stays canceled: the cancel still stops the rest of the run.
    expect(taskState(run, "smoke").status).toBe("canceled");
  });

  it("keeps the cancel when the attempt reports a failure (the cancel likely caused it) or is stale", () => {
    const canceled = transition(deploying(), cancel, T0).run;
    const failed = transition(
      canceled,
      { type: "task.failed", task: "deploy", attempt: 1, message: "terminated" },
      T0,
    );
    expect(failed.ignored?.reason).toBe("TaskTerminal");
    const stale = transition(canceled, { ...success, attempt: 2 }, T0);
    expect(stale.ignored?.reason).toBe("StaleAttempt");
    expect(taskState(canceled, "deploy").status).toBe("canceled");
  });

  it("does not turn a task canceled before it was queued into a success", () => {
    const first = play(newRun({ pipeline: approvalPipeline }), [started()]);
    const built = play(first.run, succeed(first.run, "image")).run;
    const canceled = transition(built, cancel, T0).run;
    expect(taskState(canceled, "deploy").status).toBe("canceled");
    const late = transition(canceled, { type: "task.succeeded", task: "deploy", attempt: 1 }, T0);
    expect(late.ignored?.reason).toBe("StaleAttempt");
  });

  it("records success whenever the approved attempt reported it, wherever a cancel (and repeats) fall", () => {
    const built = (() => {
      const first = play(newRun({ pipeline: approvalPipeline }), [started()]);
      return play(first.run, succeed(first.run, "image")).run;
    })();
    const grant: RunEvent = { type: "approval.granted", task: "deploy", by: "alice" };
    const start: RunEvent = { type: "task.started", task: "deploy", attempt: 1 };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
        (cancelAt, repeats) => {
          const events: RunEvent[] = [grant, start, success];
          events.splice(cancelAt, 0, cancel);
          for (const r of repeats) events.splice(r, 0, events[r] as RunEvent);
          const { run } = play(built, events);
          const granted = events.indexOf(grant) < events.indexOf(cancel);
          expect(run.status).toBe("canceled");
          expect(taskState(run, "deploy").status).toBe(granted ? "succeeded" : "canceled");
        },
      ),
    );
  });

  it("records the success once: the same report again changes nothing", () => {
    const { run } = play(deploying(), [cancel, success]);
    expect(transition(run, success, T0).ignored?.reason).toBe("Duplicate");
  });
});
