import { describe, expect, it } from "vitest";
import { jobNameFor, transition } from "../../core/engine/index.js";
import { type Effect, needsReconciling, type Run } from "../../core/model/index.js";
import { newRun, pipeline, play, runTask, succeed, T0, taskState } from "../helpers/factories.js";

const archives = (effects: Effect[]) =>
  effects.flatMap((e) => (e.type === "archiveLog" ? [`${e.task}#${e.attempt}`] : []));

const twoTasks = pipeline({
  stages: [{ name: "only", tasks: [runTask("unit", { retries: 1 }), runTask("lint")] }],
});

function begun(): Run {
  return play(newRun({ pipeline: twoTasks }), [{ type: "run.created" }]).run;
}

describe("an ended attempt owes its log to the archive", () => {
  it.each([
    ["succeeded", (run: Run) => succeed(run, "unit")],
    [
      "failed for good",
      () => [
        { type: "task.started" as const, task: "unit", attempt: 1 },
        {
          type: "task.failed" as const,
          task: "unit",
          attempt: 1,
          message: "x",
          reason: "SubmitRejected" as const,
        },
      ],
    ],
    [
      "canceled",
      () => [
        { type: "task.started" as const, task: "unit", attempt: 1 },
        { type: "cancel.requested" as const },
      ],
    ],
  ])("%s: one archiveLog for the attempt", (_, events) => {
    const run = begun();
    const { run: after, effects } = play(run, events(run));
    expect(archives(effects)).toEqual(["unit#1"]);
    expect(after.outbox.find((e) => e.type === "archiveLog")).toMatchObject({
      key: `archive:${jobNameFor(run.id, "unit", 1)}`,
      jobName: jobNameFor(run.id, "unit", 1),
    });
  });

  it("a retried attempt's log is owed too, and the next attempt's after it", () => {
    const run = begun();
    const { run: retried, effects } = play(run, [
      { type: "task.started", task: "unit", attempt: 1 },
      { type: "task.lost", task: "unit", attempt: 1 },
    ]);
    expect(taskState(retried, "unit").attempt).toBe(2);
    expect(archives(effects)).toEqual(["unit#1"]);
    expect(archives(play(retried, succeed(retried, "unit")).effects)).toEqual(["unit#2"]);
  });

  it("a task that never reached its runner owes no log", () => {
    const { effects } = play(begun(), [{ type: "cancel.requested" }]);
    expect(archives(effects)).toEqual([]);
  });

  it("log.archived lists the attempt on its task, once; the finished run then needs no reconciling", () => {
    const run = begun();
    const ended = play(run, [
      ...succeed(run, "unit"),
      { type: "task.started", task: "lint", attempt: 1 },
      { type: "cancel.requested" },
    ]).run;
    expect(needsReconciling(ended)).toBe(true);
    const keys = ended.outbox.filter((e) => e.type === "archiveLog").map((e) => e.key);
    expect(keys).toHaveLength(2);
    const archived = play(ended, [
      { type: "log.archived", key: keys[0] as string, task: "unit", attempt: 1, containers: ["task"] },
      { type: "log.archived", key: keys[1] as string, task: "lint", attempt: 1, containers: [], gone: true },
      // Only cancelTask effects are left; carried out, the run is done with its Jobs.
    ]).run;
    expect(taskState(archived, "unit").logs).toEqual([{ attempt: 1, containers: ["task"] }]);
    expect(taskState(archived, "lint").logs).toEqual([{ attempt: 1, containers: [], gone: true }]);
    const again = transition(
      archived,
      {
        type: "log.archived",
        key: keys[0] as string,
        task: "unit",
        attempt: 1,
        containers: ["task"],
      },
      T0,
    );
    expect(again.ignored?.reason).toBe("Duplicate");
    const cancels = archived.outbox.map((e) => ({ key: e.key }));
    const done = play(archived, [{ type: "outbox.delivered", results: cancels }]).run;
    expect(needsReconciling(done)).toBe(false);
  });

  it("a rerun keeps the earlier attempts' logs listed", () => {
    const run = begun();
    const unitDone = play(run, succeed(run, "unit")).run;
    const ended = play(unitDone, succeed(unitDone, "lint")).run;
    const key = `archive:${jobNameFor(run.id, "unit", 1)}`;
    const archived = play(ended, [
      { type: "log.archived", key, task: "unit", attempt: 1, containers: ["task"] },
    ]).run;
    const rerun = play(archived, [{ type: "rerun.requested" }]).run;
    expect(taskState(rerun, "unit").logs).toEqual([{ attempt: 1, containers: ["task"] }]);
    expect(rerun.round).toBe(1);
    expect(taskState(rerun, "unit").attempt).toBe(2);
  });
});
