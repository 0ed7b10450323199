import { describe, expect, it } from "vitest";
import { dueMoments } from "../../core/engine/follow-up.js";
import { transition } from "../../core/engine/index.js";
import {
  ATTEMPTS_KEPT_PER_TASK,
  LIMITS,
  Pipeline,
  type PipelineInput,
  type Run,
  type RunEvent,
} from "../../core/model/index.js";
import { at, newRun, pipeline, play, runTask, started, succeed, taskState } from "../helpers/factories.js";

const fail = (run: Run, name: string, message = "boom"): RunEvent => ({
  type: "task.failed",
  task: name,
  attempt: taskState(run, name).attempt,
  message,
});
const statuses = (run: Run) =>
  Object.fromEntries(run.stages.flatMap((s) => s.tasks).map((t) => [t.name, t.status]));
/** Applies events one at a time, each built from the run as it is then. */
function drive(run: Run, steps: Array<(run: Run) => RunEvent | RunEvent[]>, now = at(0)): Run {
  let current = run;
  for (const step of steps) {
    const events = step(current);
    current = play(
      current,
      (Array.isArray(events) ? events : [events]).map((e) => [e, now]),
    ).run;
  }
  return current;
}
const issuesOf = (input: Partial<PipelineInput>) => {
  const result = Pipeline.safeParse({ name: "p", ...input });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("needs, checked when a pipeline is applied", () => {
  it.each([
    [
      "an unknown name",
      [{ name: "s", parallel: true, tasks: [runTask("a", { needs: ["nope"] })] }],
      'stages.0.tasks.0.needs.0: no task "nope" in this pipeline',
    ],
    [
      "a cycle, with its path",
      [
        {
          name: "s",
          parallel: true,
          tasks: [
            runTask("a", { needs: ["c"] }),
            runTask("b", { needs: ["a"] }),
            runTask("c", { needs: ["b"] }),
          ],
        },
      ],
      "stages.0.tasks.0.needs: a cycle: a → c → b → a",
    ],
    [
      "a task of a later stage",
      [
        { name: "one", tasks: [runTask("a", { needs: ["b"] })] },
        { name: "two", tasks: [runTask("b")] },
      ],
      'stages.0.tasks.0.needs.0: "b" runs in a later stage (two); stages run in order',
    ],
    [
      "a later task of a serial stage",
      [{ name: "s", tasks: [runTask("a", { needs: ["b"] }), runTask("b")] }],
      'stages.0.tasks.0.needs.0: "b" comes later in serial stage s; it would never have run',
    ],
    [
      "itself",
      [{ name: "s", tasks: [runTask("a", { needs: ["a"] })] }],
      "stages.0.tasks.0.needs.0: a task cannot need itself",
    ],
  ])("refuses %s", (_, stages, issue) => {
    expect(issuesOf({ stages })).toEqual([issue]);
  });

  it("accepts needs on its own stage and earlier ones, and finally tasks on each other", () => {
    expect(
      issuesOf({
        stages: [
          { name: "one", tasks: [runTask("a")] },
          {
            name: "two",
            parallel: true,
            tasks: [runTask("b", { needs: ["a"] }), runTask("c", { needs: ["b"] })],
          },
        ],
        finally: [runTask("f1"), runTask("f2", { needs: ["f1", "c"] })],
      }),
    ).toEqual([]);
    expect(
      issuesOf({ stages: [{ name: "s", tasks: [runTask("a", { needs: ["f"] })] }], finally: [runTask("f")] }),
    ).toEqual(['stages.0.tasks.0.needs.0: "f" runs in a later stage (finally); stages run in order']);
  });
});

describe("a parallel stage whose tasks use needs is a graph", () => {
  const graph = pipeline({
    stages: [
      {
        name: "build",
        parallel: true,
        tasks: [
          runTask("a"),
          runTask("b"),
          runTask("c", { needs: ["a", "b"] }),
          runTask("d", { needs: ["c"] }),
          runTask("e"),
        ],
      },
    ],
  });

  it("starts a task only once everything it needs succeeded, and it sees their outputs", () => {
    let run = drive(newRun({ pipeline: graph }), [started, (r) => succeed(r, "a", "FROM_A=1")]);
    expect(statuses(run)).toMatchObject({
      a: "succeeded",
      b: "queued",
      c: "pending",
      d: "pending",
      e: "queued",
    });
    const { run: next, effects } = play(run, succeed(run, "b"));
    run = next;
    expect(statuses(run)).toMatchObject({ c: "queued", d: "pending" });
    const launch = effects.find((e) => e.type === "submitTask");
    expect(launch?.type === "submitTask" && launch.launch.env.FROM_A).toBe("1");
  });

  it("skips what needs a failed task, lets independent branches finish, and fails the run", () => {
    const run = drive(newRun({ pipeline: graph }), [
      started,
      (r) => fail(r, "a"),
      (r) => succeed(r, "b"),
      (r) => succeed(r, "e"),
    ]);
    expect(statuses(run)).toMatchObject({ c: "skipped", d: "skipped", e: "succeeded" });
    expect(taskState(run, "c").message).toBe("needs a, which failed");
    expect(taskState(run, "d").message).toBe("needs c, which was skipped");
    expect(run).toMatchObject({ status: "failed", message: "task a failed: boom" });
  });
});

describe("finally tasks", () => {
  const withFinally = pipeline({
    stages: [
      { name: "test", tasks: [runTask("unit")] },
      { name: "ship", tasks: [runTask("deploy")] },
    ],
    finally: [runTask("cleanup"), runTask("report", { needs: ["cleanup"] })],
  });

  it("run after a failure, see HOOKFLOW_RUN_STATUS, and never turn the run into a success", () => {
    let run = drive(newRun({ pipeline: withFinally }), [started]);
    const { run: failed, effects } = play(run, [fail(run, "unit")]);
    run = failed;
    expect(statuses(run)).toMatchObject({ deploy: "skipped", cleanup: "queued", report: "pending" });
    expect(run.status).toBe("running");
    const cleanup = effects.find((e) => e.type === "submitTask");
    expect(cleanup?.type === "submitTask" && cleanup.launch.env.HOOKFLOW_RUN_STATUS).toBe("failed");
    run = drive(run, [(r) => succeed(r, "cleanup"), (r) => succeed(r, "report")]);
    expect(run).toMatchObject({ status: "failed", message: "task unit failed: boom" });
    expect(run.stages.at(-1)).toMatchObject({ name: "finally", finally: true });
  });

  it("wait for the stages, and a failing finally task fails a run whose stages succeeded", () => {
    let run = drive(newRun({ pipeline: withFinally }), [started, (r) => succeed(r, "unit")]);
    expect(statuses(run)).toMatchObject({ deploy: "queued", cleanup: "pending" });
    const { effects } = play(run, succeed(run, "deploy"));
    const cleanup = effects.find((e) => e.type === "submitTask");
    expect(cleanup?.type === "submitTask" && cleanup.launch.env.HOOKFLOW_RUN_STATUS).toBe("succeeded");
    run = drive(run, [(r) => succeed(r, "deploy"), (r) => fail(r, "cleanup")]);
    expect(run).toMatchObject({ status: "failed", message: "task cleanup failed: boom" });
    expect(taskState(run, "report").status).toBe("skipped");
  });

  it("do not run when the run is canceled", () => {
    const run = drive(newRun({ pipeline: withFinally }), [started, () => ({ type: "cancel.requested" })]);
    expect(statuses(run)).toMatchObject({ unit: "canceled", cleanup: "canceled", report: "canceled" });
    expect(run.status).toBe("canceled");
  });
});

describe("rerunning one task", () => {
  const p = pipeline({
    stages: [
      { name: "build", parallel: true, tasks: [runTask("a"), runTask("b", { needs: ["a"] }), runTask("c")] },
      { name: "ship", tasks: [runTask("deploy")] },
    ],
    finally: [runTask("report")],
  });
  const finished = drive(newRun({ pipeline: p }), [
    started,
    (r) => succeed(r, "a", "OUT=first"),
    (r) => succeed(r, "c"),
    (r) => succeed(r, "b"),
    (r) => succeed(r, "deploy"),
    (r) => succeed(r, "report"),
  ]);

  it("runs that task and the finally tasks again, keeping the earlier attempt readable", () => {
    expect(finished.status).toBe("succeeded");
    const run = drive(finished, [() => ({ type: "rerun.requested", task: "a", groupAhead: [] })]);
    expect(statuses(run)).toMatchObject({
      a: "queued",
      b: "succeeded",
      c: "succeeded",
      deploy: "succeeded",
      report: "pending",
    });
    expect(run.round).toBe(1);
    expect(taskState(run, "a").history).toEqual([
      expect.objectContaining({ attempt: 1, round: 0, status: "succeeded", outputs: { OUT: "first" } }),
    ]);
    const done = drive(run, [(r) => succeed(r, "a", "OUT=second"), (r) => succeed(r, "report")]);
    expect(done.status).toBe("succeeded");
    expect(taskState(done, "a")).toMatchObject({ attempt: 2, outputs: { OUT: "second" } });
  });

  it("with downstream, also what needs it and every later stage", () => {
    const run = drive(finished, [
      () => ({ type: "rerun.requested", task: "a", downstream: true, groupAhead: [] }),
    ]);
    expect(statuses(run)).toMatchObject({ a: "queued", b: "pending", c: "succeeded", deploy: "pending" });
  });

  it("refuses an unknown task and a run still active", () => {
    expect(transition(finished, { type: "rerun.requested", task: "zz" }, at(0)).ignored?.reason).toBe(
      "UnknownTask",
    );
    const active = drive(finished, [() => ({ type: "rerun.requested", task: "a", groupAhead: [] })]);
    expect(transition(active, { type: "rerun.requested", task: "a" }, at(0)).ignored?.reason).toBe(
      "RunActive",
    );
  });

  it("keeps the newest ATTEMPTS_KEPT_PER_TASK attempts of a task", () => {
    let run = finished;
    for (let round = 0; round < ATTEMPTS_KEPT_PER_TASK + 3; round++)
      run = drive(run, [
        () => ({ type: "rerun.requested", task: "deploy", groupAhead: [] }),
        (r) => succeed(r, "deploy"),
        (r) => succeed(r, "report"),
      ]);
    expect(taskState(run, "deploy").history?.map((h) => h.round)).toEqual([3, 4, 5, 6, 7]);
  });

  it("keeps a bounded history: the newest attempts per task, the whole run within its byte budget", () => {
    const big = `OUT=${"x".repeat(LIMITS.outputBytesPerTask - 8)}`;
    let run = finished;
    for (let round = 0; round < ATTEMPTS_KEPT_PER_TASK + 3; round++)
      run = drive(run, [
        () => ({ type: "rerun.requested", groupAhead: [] }),
        (r) => succeed(r, "a", big),
        (r) => succeed(r, "c", big),
        (r) => succeed(r, "b", big),
        (r) => succeed(r, "deploy", big),
        (r) => succeed(r, "report"),
      ]);
    for (const task of run.stages.flatMap((s) => s.tasks)) {
      const rounds = task.history?.map((h) => h.round) ?? [];
      // The newest rounds, in order; fewer than ATTEMPTS_KEPT_PER_TASK once the run's budget bites.
      expect(rounds).toEqual(Array.from({ length: rounds.length }, (_, i) => 8 - rounds.length + i));
      expect(rounds.length).toBeLessThan(ATTEMPTS_KEPT_PER_TASK);
    }
    const bytes = run.stages
      .flatMap((s) => s.tasks)
      .reduce((n, t) => n + JSON.stringify(t.history ?? []).length, 0);
    expect(bytes).toBeLessThanOrEqual(LIMITS.historyBytesPerRun);
    expect(bytes).toBeGreaterThan(LIMITS.historyBytesPerRun - 2 * LIMITS.outputBytesPerTask);
  });
});

describe("limits", () => {
  it("retries after a backoff that doubles, decided on any later look at the run", () => {
    const p = pipeline({
      stages: [{ name: "s", tasks: [runTask("flaky", { retries: { limit: 2, backoffSeconds: 10 } })] }],
    });
    let run = drive(newRun({ pipeline: p }), [started, (r) => fail(r, "flaky")]);
    expect(taskState(run, "flaky")).toMatchObject({
      status: "pending",
      reason: "RetryWaiting",
      retryAt: at(10),
    });
    expect(transition(run, { type: "reconcile" }, at(9)).run).toBe(run);
    run = transition(run, { type: "reconcile" }, at(10)).run;
    expect(taskState(run, "flaky")).toMatchObject({ status: "queued", attempt: 2 });
    run = play(run, [[fail(run, "flaky"), at(11)]]).run;
    expect(taskState(run, "flaky").retryAt).toBe(at(31));
    expect(taskState(run, "flaky").history?.map((h) => h.attempt)).toEqual([1, 2]);
    expect(dueMoments(run, at(11))).toEqual([{ at: at(31), reason: "retryBackoff" }]);
    expect(dueMoments(run, at(31))).toEqual([]);
  });

  it("forgets a retry's time when the task is canceled while it waits, so no wake-up is asked for it", () => {
    const p = pipeline({
      stages: [
        {
          name: "s",
          parallel: true,
          tasks: [runTask("flaky", { retries: { limit: 1, backoffSeconds: 10 } }), runTask("other")],
        },
      ],
    });
    const waiting = drive(newRun({ pipeline: p }), [started, (r) => fail(r, "flaky")]);
    expect(dueMoments(waiting, at(1))).toContainEqual({ at: at(10), reason: "retryBackoff" });
    const { run } = transition(waiting, { type: "cancel.requested", task: "flaky" }, at(2));
    expect(taskState(run, "flaky")).toMatchObject({ status: "canceled", retryAt: undefined });
    expect(dueMoments(run, at(2)).filter((m) => m.reason === "retryBackoff")).toEqual([]);
  });

  it("fails a run past its timeoutSeconds whatever ignoreFailed says, cancels its Jobs, then runs finally", () => {
    const p = pipeline({
      timeoutSeconds: 60,
      stages: [
        { name: "s", parallel: true, tasks: [runTask("slow", { ignoreFailed: true }), runTask("quick")] },
      ],
      finally: [runTask("cleanup")],
    });
    const run = drive(newRun({ pipeline: p }), [started, (r) => succeed(r, "quick")]);
    expect(dueMoments(run, at(1))).toEqual([{ at: at(60), reason: "runTimeout" }]);
    expect(transition(run, { type: "reconcile" }, at(59)).run).toBe(run);
    const { run: late, effects } = transition(run, { type: "reconcile" }, at(60));
    expect(taskState(late, "slow")).toMatchObject({ status: "failed", reason: "RunTimedOut" });
    expect(effects.map((e) => e.type)).toContain("cancelTask");
    expect(taskState(late, "cleanup").status).toBe("queued");
    const done = drive(late, [(r) => succeed(r, "cleanup")]);
    expect(done).toMatchObject({ status: "failed", message: "the run timed out after 60s" });
  });

  it("lets concurrency.max runs of a group run at once", () => {
    const p = pipeline({ concurrency: { group: "g", max: 2 } });
    expect(
      transition(newRun({ pipeline: p }), { type: "run.created", groupAhead: ["r0"] }, at(0)).run.status,
    ).toBe("running");
    expect(
      transition(newRun({ pipeline: p }), { type: "run.created", groupAhead: ["r0", "r00"] }, at(0)).run
        .reason,
    ).toBe("WaitingForGroup");
    const cancelling = pipeline({ concurrency: { group: "g", max: 2, cancelInProgress: true } });
    const { effects } = transition(
      newRun({ pipeline: cancelling }),
      { type: "run.created", groupAhead: ["r0", "r00"] },
      at(0),
    );
    expect(
      effects.filter((e) => e.type === "cancelRun").map((e) => e.type === "cancelRun" && e.target),
    ).toEqual(["r0"]);
  });

  it("queues no more than maxRunningTasks tasks of a run at once", () => {
    const p = pipeline({
      maxRunningTasks: 2,
      stages: [{ name: "s", parallel: true, tasks: ["a", "b", "c", "d"].map((n) => runTask(n)) }],
    });
    let run = drive(newRun({ pipeline: p }), [started]);
    expect(statuses(run)).toEqual({ a: "queued", b: "queued", c: "pending", d: "pending" });
    run = drive(run, [(r) => succeed(r, "b")]);
    expect(statuses(run)).toEqual({ a: "queued", b: "succeeded", c: "queued", d: "pending" });
  });

  it("keeps an attempt the pipeline has no room for queued, untimed, until it is submitted", () => {
    const p = pipeline({ stages: [{ name: "s", tasks: [runTask("a", { timeoutSeconds: 60 })] }] });
    const run = drive(newRun({ pipeline: p }), [started]);
    const queued = taskState(run, "a");
    const full: RunEvent = { type: "task.waitingForRoom", task: "a", attempt: 1, limit: 3 };
    const waiting = transition(run, full, at(1)).run;
    expect(taskState(waiting, "a")).toMatchObject({
      status: "queued",
      reason: "WaitingForRoom",
      message: "waiting for room: the pipeline's 3 running tasks (maxRunningTasks) are all taken",
    });
    expect(transition(waiting, full, at(2)).ignored?.reason).toBe("Duplicate");
    // Long past its timeout: waiting for room does not count against it.
    const later = transition(waiting, { type: "reconcile" }, at(10_000)).run;
    expect(taskState(later, "a")).toMatchObject({ status: "queued", reason: "WaitingForRoom" });
    // Submitted: its whole timeout (and grace) runs from now.
    const submitted = transition(later, { type: "task.submitted", task: "a", attempt: 1 }, at(10_000)).run;
    const budget = Date.parse(queued.deadline ?? "") - Date.parse(queued.queuedAt ?? "");
    expect(taskState(submitted, "a")).toMatchObject({ reason: "Queued", message: undefined });
    expect(Date.parse(taskState(submitted, "a").deadline ?? "") - Date.parse(at(10_000))).toBe(budget);
  });

  it("owes a slot back once per ended attempt, retries and cancels included", () => {
    const p = pipeline({ stages: [{ name: "s", tasks: [runTask("a", { retries: 1 })] }] });
    const run = drive(newRun({ pipeline: p }), [started]);
    const failed = transition(run, fail(run, "a"), at(1));
    expect(failed.effects.filter((e) => e.type === "releaseSlot").map((e) => e.key)).toEqual([
      `slot:${taskState(run, "a").jobName}`,
    ]);
    const canceled = transition(failed.run, { type: "cancel.requested" }, at(2));
    expect(canceled.effects.filter((e) => e.type === "releaseSlot").map((e) => e.key)).toEqual([
      `slot:${taskState(failed.run, "a").jobName}`,
    ]);
    expect(canceled.run.outbox.filter((e) => e.type === "releaseSlot")).toHaveLength(2);
    // A success reported after the cancel is recorded, and owes nothing more.
    const late = transition(canceled.run, succeed(canceled.run, "a")[0] as RunEvent, at(3));
    expect(late.effects.filter((e) => e.type === "releaseSlot")).toEqual([]);
  });
});

describe("cancelling one task", () => {
  const p = pipeline({
    stages: [
      { name: "s", parallel: true, tasks: [runTask("optional", { ignoreFailed: true }), runTask("needed")] },
      { name: "t", tasks: [runTask("last")] },
    ],
  });

  it("cancels its Job; ignoreFailed absorbs it, so the run goes on", () => {
    const run = drive(newRun({ pipeline: p }), [started]);
    const { run: next, effects } = transition(
      run,
      { type: "cancel.requested", task: "optional", by: "carol" },
      at(1),
    );
    expect(taskState(next, "optional")).toMatchObject({ status: "canceled", message: "canceled by carol" });
    expect(effects.map((e) => e.type)).toContain("cancelTask");
    const done = drive(next, [(r) => succeed(r, "needed"), (r) => succeed(r, "last")]);
    expect(done.status).toBe("succeeded");
  });

  it("fails the run otherwise, and refuses a task that already ended", () => {
    const run = drive(newRun({ pipeline: p }), [
      started,
      () => ({ type: "cancel.requested", task: "needed" }),
    ]);
    expect(statuses(run)).toMatchObject({ needed: "canceled", optional: "queued", last: "pending" });
    const done = drive(run, [(r) => succeed(r, "optional")]);
    expect(done).toMatchObject({ status: "failed", message: "task needed was canceled: canceled" });
    expect(transition(done, { type: "cancel.requested", task: "needed" }, at(0)).ignored?.reason).toBe(
      "RunTerminal",
    );
    expect(transition(run, { type: "cancel.requested", task: "needed" }, at(0)).ignored?.reason).toBe(
      "TaskTerminal",
    );
  });
});
