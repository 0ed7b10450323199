import { describe, expect, it } from "vitest";
import { transition } from "../../core/engine/index.js";
import type { Effect } from "../../core/model/index.js";
import {
  newRun,
  pipeline,
  play,
  runTask,
  started,
  submittedTasks,
  succeed,
  T0,
  taskState,
} from "../helpers/factories.js";

const notifyAll = [
  {
    kind: "webhook" as const,
    url: "https://hooks.example.com/x",
    on: [
      "run.started",
      "run.succeeded",
      "run.failed",
      "run.canceled",
      "task.waiting",
      "task.failed",
      "task.succeeded",
    ] as const,
  },
];
const approvalPipeline = pipeline({
  notify: notifyAll.map((n) => ({ ...n, on: [...n.on] })),
  stages: [
    { name: "build", tasks: [runTask("image")] },
    { name: "ship", tasks: [runTask("deploy", { approval: { approvers: ["alice", "bob"] } })] },
  ],
});
const notifications = (effects: Effect[]) =>
  effects.flatMap((e) => (e.type === "notify" ? [`${e.event}${e.task ? `:${e.task}` : ""}`] : []));

describe("approvals", () => {
  const waiting = () => {
    const first = play(newRun({ pipeline: approvalPipeline }), [started()]);
    return play(first.run, succeed(first.run, "image"));
  };

  it("waits before submission and notifies task.waiting", () => {
    const { run, effects } = waiting();
    expect(taskState(run, "deploy")).toMatchObject({
      status: "waiting",
      reason: "AwaitingApproval",
      attempt: 0,
    });
    expect(taskState(run, "deploy").message).toBe("waiting for approval by alice or bob");
    expect(run.status).toBe("waiting");
    expect(submittedTasks(effects)).toEqual([]);
    expect(notifications(effects)).toContain("task.waiting:deploy");
  });

  it("continues when a listed approver approves", () => {
    const { run, effects } = play(waiting().run, [{ type: "approval.granted", task: "deploy", by: "Bob" }]);
    expect(taskState(run, "deploy")).toMatchObject({
      status: "queued",
      approval: { decision: "approved", by: "Bob" },
    });
    expect(submittedTasks(effects)).toEqual(["deploy"]);
  });

  it("ignores anyone else, and a second approval", () => {
    const before = waiting().run;
    const stranger = transition(before, { type: "approval.granted", task: "deploy", by: "mallory" }, T0);
    expect(stranger.ignored?.reason).toBe("NotAnApprover");
    expect(stranger.run).toBe(before);
    const approved = transition(before, { type: "approval.granted", task: "deploy", by: "alice" }, T0).run;
    expect(
      transition(approved, { type: "approval.granted", task: "deploy", by: "alice" }, T0).ignored?.reason,
    ).toBe("NotWaitingForApproval");
  });

  it("fails the task and the run with the approver's comment on deny", () => {
    const { run } = play(waiting().run, [
      { type: "approval.denied", task: "deploy", by: "alice", comment: "not on a Friday" },
    ]);
    expect(taskState(run, "deploy")).toMatchObject({
      status: "failed",
      reason: "Denied",
      message: "denied by alice: not on a Friday",
    });
    expect(run.status).toBe("failed");
    expect(run.message).toBe("task deploy failed: denied by alice: not on a Friday");
  });
});

describe("cancel", () => {
  it("cancels queued and running Jobs, marks pending tasks canceled, and ends the run", () => {
    let { run } = play(newRun(), [
      started(),
      { type: "task.started", task: "unit", attempt: 1 },
      ...succeed(newRun(), "types").map((e) => ({ ...e, attempt: 1 })),
    ]);
    const result = transition(run, { type: "cancel.requested", by: "carol" }, T0);
    run = result.run;
    expect(run).toMatchObject({
      status: "canceled",
      reason: "Canceled",
      message: "canceled by carol",
      finishedAt: T0,
    });
    expect(run.stages.flatMap((s) => s.tasks).map((t) => [t.name, t.status])).toEqual([
      ["unit", "canceled"],
      ["lint", "canceled"],
      ["types", "succeeded"],
      ["image", "canceled"],
      ["deploy", "canceled"],
    ]);
    expect(
      result.effects
        .filter((e) => e.type === "cancelTask")
        .map((e) => (e.type === "cancelTask" ? e.task : "")),
    ).toEqual(["unit", "lint"]);
    expect(transition(run, { type: "cancel.requested" }, T0).ignored?.reason).toBe("RunTerminal");
    expect(
      transition(run, { type: "task.failed", task: "unit", attempt: 1, message: "killed" }, T0).ignored
        ?.reason,
    ).toBe("TaskTerminal");
  });
});

describe("re-run", () => {
  const failedRun = () => {
    let { run } = play(newRun(), [started()]);
    ({ run } = play(run, [...succeed(run, "unit", "DIGEST=sha256:abc"), ...succeed(run, "lint")]));
    ({ run } = play(run, [{ type: "task.failed", task: "types", attempt: 1, message: "tsc" }]));
    return run;
  };

  it("refuses a run that has not finished", () => {
    expect(transition(play(newRun(), [started()]).run, { type: "rerun.requested" }, T0).ignored?.reason).toBe(
      "RunActive",
    );
  });

  it("failed-only keeps what succeeded, with its outputs, and runs the rest again", () => {
    const { run, effects } = play(failedRun(), [{ type: "rerun.requested", failedOnly: true }]);
    expect(run).toMatchObject({ status: "running", round: 1 });
    expect(taskState(run, "unit")).toMatchObject({
      status: "succeeded",
      outputs: { DIGEST: "sha256:abc" },
      attempt: 1,
    });
    expect(taskState(run, "types")).toMatchObject({ status: "queued", attempt: 2 });
    expect(taskState(run, "image").status).toBe("pending");
    expect(submittedTasks(effects)).toEqual(["types"]);
    // the retry budget starts again with the round
    expect(taskState(run, "types").roundStart).toBe(1);
  });

  it("all runs every task again", () => {
    const { run, effects } = play(failedRun(), [{ type: "rerun.requested" }]);
    expect(taskState(run, "unit")).toMatchObject({ status: "queued", attempt: 2, outputs: {} });
    expect(submittedTasks(effects)).toEqual(["unit", "lint", "types"]);
  });

  it("has nothing to re-run failed-only in a run where everything succeeded", () => {
    let { run } = play(newRun(), [started()]);
    for (const name of ["unit", "lint", "types", "image", "deploy"])
      ({ run } = play(run, succeed(run, name)));
    expect(run.status).toBe("succeeded");
    expect(transition(run, { type: "rerun.requested", failedOnly: true }, T0).ignored?.reason).toBe(
      "NothingToRerun",
    );
  });
});

describe("concurrency groups", () => {
  const grouped = (cancelInProgress: boolean) =>
    pipeline({ concurrency: { group: "${GIT_BRANCH}", cancelInProgress } });

  it("makes a new run wait while an older one of its group is active, and starts it when told the group is free", () => {
    const { run, effects } = play(newRun({ id: "r2", pipeline: grouped(false) }), [
      { type: "run.created", groupAhead: ["r1"] },
    ]);
    expect(run).toMatchObject({ status: "pending", reason: "WaitingForGroup" });
    expect(run.message).toMatch(/waiting for r1 in concurrency group github:acme\/web-app:main/);
    expect(effects.filter((e) => e.type === "submitTask")).toEqual([]);
    const free = transition(run, { type: "reconcile", groupAhead: [] }, T0);
    expect(free.run.status).toBe("running");
  });

  it("cancels the older runs with cancelInProgress and starts at once", () => {
    const { run, effects } = play(newRun({ id: "r2", pipeline: grouped(true) }), [
      { type: "run.created", groupAhead: ["r1"] },
    ]);
    expect(run.status).toBe("running");
    expect(effects).toContainEqual({
      type: "cancelRun",
      key: "cancel-run:r1:by:r2",
      runId: "r2",
      target: "r1",
    });
  });

  it("wakes its group when a grouped run ends", () => {
    const { run } = play(newRun({ pipeline: grouped(false) }), [started()]);
    const { effects } = play(run, [{ type: "cancel.requested", byRun: "r9" }]);
    expect(effects).toContainEqual(
      expect.objectContaining({ type: "wakeGroup", group: "github:acme/web-app:main" }),
    );
  });

  it("leaves runs without a group alone", () => {
    const { run, effects } = play(newRun(), [{ type: "run.created", groupAhead: [] }]);
    expect(run.status).toBe("running");
    expect(effects.some((e) => e.type === "cancelRun" || e.type === "wakeGroup")).toBe(false);
  });
});

describe("effects", () => {
  it("each carry an idempotency key, and notifications follow the notifiers' `on` lists", () => {
    const p = pipeline({ notify: [{ kind: "slack", url: "https://hooks.slack.com/x", on: ["run.failed"] }] });
    let all: Effect[] = [];
    let { run, effects } = play(newRun({ pipeline: p, commitStatus: true }), [started()]);
    all = all.concat(effects);
    ({ run, effects } = play(run, [
      { type: "task.failed", task: "unit", attempt: 1, message: "x" },
      ...succeed(run, "lint"),
      ...succeed(run, "types"),
    ]));
    all = all.concat(effects);
    expect(run.status).toBe("failed");
    expect(notifications(all)).toEqual(["run.failed"]);
    expect(
      all.filter((e) => e.type === "commitStatus").map((e) => (e.type === "commitStatus" ? e.state : "")),
    ).toEqual(["pending", "failure"]);
    const keys = all.map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.every((k) => k.length > 0)).toBe(true);
  });

  it("stay in the outbox until delivered, and a reconcile re-emits what is owed", () => {
    const p = pipeline({
      notify: [{ kind: "slack", url: "https://hooks.slack.com/x", on: ["run.started"] }],
    });
    const { run } = play(newRun({ pipeline: p }), [started()]);
    const owed = transition(run, { type: "reconcile" }, T0);
    expect(owed.effects.map((e) => e.type)).toEqual(["submitTask", "submitTask", "submitTask", "notify"]);
    const key = run.outbox[0]?.key as string;
    const delivered = transition(
      run,
      { type: "outbox.delivered", results: [{ key, target: "slack", error: "HTTP 500" }] },
      T0,
    );
    expect(delivered.run.outbox).toEqual([]);
    expect(delivered.run.deliveryFailures).toEqual([{ key, target: "slack", error: "HTTP 500", at: T0 }]);
    expect(
      transition(delivered.run, { type: "outbox.delivered", results: [{ key }] }, T0).ignored?.reason,
    ).toBe("Duplicate");
  });

  it("a confirmed submission is not owed again", () => {
    const { run } = play(newRun(), [started(), { type: "task.submitted", task: "unit", attempt: 1 }]);
    const owed = transition(run, { type: "reconcile" }, T0).effects;
    expect(submittedTasks(owed)).toEqual(["lint", "types"]);
  });
});
