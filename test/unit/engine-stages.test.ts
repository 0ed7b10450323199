import { describe, expect, it } from "vitest";
import { jobNameFor, transition } from "../../core/engine/index.js";
import type { RunEvent } from "../../core/model/index.js";
import {
  at,
  newRun,
  pipeline,
  play,
  runTask,
  started,
  submittedTasks,
  succeed,
  T0,
  taskState,
  trigger,
} from "../helpers/factories.js";

/** All orders of a list. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe("creating a run", () => {
  it("has every stage and task pending and its variables resolved", () => {
    const run = newRun();
    expect(run.status).toBe("pending");
    expect(run.stages.flatMap((s) => s.tasks).every((t) => t.status === "pending" && t.attempt === 0)).toBe(
      true,
    );
    expect(run.variables).toMatchObject({
      HOOKFLOW_RUN_ID: "r1",
      HOOKFLOW_PIPELINE: "web-app",
      GIT_PROVIDER: "github",
      GIT_BRANCH: "main",
      GIT_TAG: "",
      GIT_COMMIT: "0123456789abcdef0123456789abcdef01234567",
      APP_VERSION: "20261123-main-01234567",
    });
  });

  it.each([
    [{ branch: "feature/login", ref: "refs/heads/feature/login" }, "20261123-feature-login-01234567"],
    [{ branch: "x$(touch /tmp/pwned)`id`", ref: "refs/heads/x" }, "20261123-x-touch-tmp-pwned-id-01234567"],
    [{ event: "tag" as const, branch: undefined, tag: "v1.2.3", ref: "refs/tags/v1.2.3" }, "v1.2.3"],
  ])("builds APP_VERSION in image-tag characters (%o)", (overrides, expected) => {
    expect(newRun({ trigger: trigger(overrides) }).variables.APP_VERSION).toBe(expected);
  });

  it("resolves the concurrency group from run variables and pipeline params", () => {
    const run = newRun({
      pipeline: pipeline({ params: { ENV: "prod" }, concurrency: { group: "${GIT_REPOSITORY}/${ENV}" } }),
    });
    expect(run.concurrencyGroup).toBe("github:acme/web-app:acme/web-app/prod");
  });

  it("scopes a concurrency group to its repository; ${HOOKFLOW_PIPELINE} separates two pipelines of one", () => {
    const group = (repository: string, name: string, written: string) =>
      newRun({
        pipeline: pipeline({ name, concurrency: { group: written } }),
        trigger: trigger({ provider: "gitlab", repository }),
      }).concurrencyGroup;
    expect(group("acme/Web", "ci", "pr")).toBe("gitlab:acme/web:pr");
    expect(group("acme/web", "ci", "pr")).toBe(group("acme/web", "lint", "pr"));
    expect(group("acme/web", "ci", "pr")).not.toBe(group("acme/shop", "ci", "pr"));
    expect(group("acme/web", "ci", "${HOOKFLOW_PIPELINE}")).not.toBe(
      group("acme/web", "lint", "${HOOKFLOW_PIPELINE}"),
    );
  });

  it("gives a pull request run its number and base branch; other runs get them empty", () => {
    const pr = newRun({
      trigger: trigger({
        event: "pull_request",
        branch: "feature/x",
        pullRequest: { number: 12, baseBranch: "main", headRepository: "acme/web-app", fork: false },
      }),
    });
    expect(pr.variables).toMatchObject({
      GIT_PULL_REQUEST: "12",
      GIT_BASE_BRANCH: "main",
      GIT_BRANCH: "feature/x",
    });
    expect(newRun().variables).toMatchObject({ GIT_PULL_REQUEST: "", GIT_BASE_BRANCH: "" });
  });

  it("cuts a very long commit message with a visible marker", () => {
    const run = newRun({ trigger: trigger({ message: "m".repeat(10_000) }) });
    expect(run.trigger.message.length).toBeLessThanOrEqual(2048);
    expect(run.trigger.message).toMatch(/\[cut\]$/);
  });
});

describe("stages and tasks", () => {
  it("starts a parallel stage all at once, and a serial one task by task", () => {
    let { run, effects } = play(newRun(), [started()]);
    expect(run.status).toBe("running");
    expect(submittedTasks(effects)).toEqual(["unit", "lint", "types"]);
    ({ run, effects } = play(run, [
      ...succeed(run, "unit"),
      ...succeed(run, "lint"),
      ...succeed(run, "types"),
    ]));
    expect(submittedTasks(effects)).toEqual(["image"]);
    expect(taskState(run, "deploy").status).toBe("pending");
    ({ run, effects } = play(run, succeed(run, "image")));
    expect(submittedTasks(effects)).toEqual(["deploy"]);
    ({ run, effects } = play(run, succeed(run, "deploy")));
    expect(run.status).toBe("succeeded");
    expect(run.finishedAt).toBe(T0);
  });

  it("completes a parallel stage exactly once, whatever order its tasks finish in and however often", () => {
    const base = play(newRun(), [started()]).run;
    for (const order of permutations(["unit", "lint", "types"])) {
      const events: RunEvent[] = order.flatMap((name) => {
        const steps = succeed(base, name);
        return [...steps, ...steps]; // every callback delivered twice
      });
      const { run, effects } = play(base, events);
      expect(submittedTasks(effects)).toEqual(["image"]);
      expect(taskState(run, "image").status).toBe("queued");
    }
  });

  it("does not fail a parallel stage while a sibling still runs, then fails the run", () => {
    let { run } = play(newRun(), [started()]);
    ({ run } = play(run, [
      { type: "task.failed", task: "unit", attempt: 1, message: "exit 1" },
      ...succeed(run, "lint"),
    ]));
    expect(run.status).toBe("running");
    expect(taskState(run, "types").status).toBe("queued");
    const done = play(run, succeed(run, "types"));
    expect(done.run.status).toBe("failed");
    expect(done.run.message).toBe("task unit failed: exit 1");
    expect(submittedTasks(done.effects)).toEqual([]);
    expect(done.run.stages[1]?.tasks.map((t) => [t.status, t.reason])).toEqual([
      ["skipped", "UpstreamFailed"],
      ["skipped", "UpstreamFailed"],
    ]);
  });

  it("skips the rest of a serial stage after a failure", () => {
    const p = pipeline({ stages: [{ name: "s", tasks: [runTask("a"), runTask("b"), runTask("c")] }] });
    const { run } = play(newRun({ pipeline: p }), [
      started(),
      { type: "task.failed", task: "a", attempt: 1, message: "boom" },
    ]);
    expect(run.stages[0]?.tasks.map((t) => t.status)).toEqual(["failed", "skipped", "skipped"]);
    expect(run.status).toBe("failed");
  });

  it("carries on past a task with ignoreFailed", () => {
    const p = pipeline({
      stages: [{ name: "s", tasks: [runTask("a", { ignoreFailed: true }), runTask("b")] }],
    });
    let { run } = play(newRun({ pipeline: p }), [
      started(),
      { type: "task.failed", task: "a", attempt: 1, message: "flaky" },
    ]);
    expect(taskState(run, "b").status).toBe("queued");
    ({ run } = play(run, succeed(run, "b")));
    expect(run.status).toBe("succeeded");
  });

  it("skips a task whose `when` does not match, and runs the next one", () => {
    const p = pipeline({
      stages: [
        {
          name: "s",
          tasks: [
            runTask("release", { when: { tags: ["v*"] } }),
            runTask("b", { when: { branches: ["main"] } }),
          ],
        },
      ],
    });
    const { run } = play(newRun({ pipeline: p }), [started()]);
    expect(taskState(run, "release")).toMatchObject({ status: "skipped", reason: "WhenNotMatched" });
    expect(taskState(run, "b").status).toBe("queued");
  });

  it("succeeds a run whose every task is skipped", () => {
    const p = pipeline({ stages: [{ name: "s", tasks: [runTask("a", { when: { events: ["tag"] } })] }] });
    expect(play(newRun({ pipeline: p }), [started()]).run.status).toBe("succeeded");
  });
});

describe("retries and timeouts", () => {
  const p = pipeline({
    stages: [{ name: "s", tasks: [runTask("flaky", { retries: 1, timeoutSeconds: 60 })] }],
  });

  it("retries a failed task under a new Job name, then fails the run", () => {
    let { run, effects } = play(newRun({ pipeline: p }), [
      started(),
      { type: "task.failed", task: "flaky", attempt: 1, message: "exit 1" },
    ]);
    expect(taskState(run, "flaky")).toMatchObject({
      status: "queued",
      attempt: 2,
      jobName: jobNameFor("r1", "flaky", 2),
    });
    expect(taskState(run, "flaky").message).toMatch(/attempt 1: exit 1; retrying/);
    expect(effects.filter((e) => e.type === "submitTask").map((e) => e.key)).toEqual([
      `submit:${jobNameFor("r1", "flaky", 1)}`,
      `submit:${jobNameFor("r1", "flaky", 2)}`,
    ]);
    ({ run } = play(run, [{ type: "task.failed", task: "flaky", attempt: 2, message: "exit 1" }]));
    expect(taskState(run, "flaky")).toMatchObject({ status: "failed", attempt: 2 });
    expect(run.status).toBe("failed");
  });

  it("ignores a report from an attempt that is no longer current", () => {
    const { run } = play(newRun({ pipeline: p }), [
      started(),
      { type: "task.failed", task: "flaky", attempt: 1, message: "x" },
    ]);
    const late = transition(run, { type: "task.succeeded", task: "flaky", attempt: 1 }, T0);
    expect(late.ignored?.reason).toBe("StaleAttempt");
    expect(late.run).toBe(run);
  });

  it("times out a task past its deadline, cancels its Job and retries it", () => {
    const { run } = play(newRun({ pipeline: p }), [
      started(),
      { type: "task.started", task: "flaky", attempt: 1 },
    ]);
    const early = transition(run, { type: "reconcile" }, at(60));
    expect(taskState(early.run, "flaky").status).toBe("running");
    const late = transition(run, { type: "reconcile" }, at(91));
    expect(taskState(late.run, "flaky")).toMatchObject({ status: "queued", attempt: 2 });
    expect(taskState(late.run, "flaky").message).toMatch(/timed out after 60s/);
    expect(late.effects).toContainEqual(
      expect.objectContaining({ type: "cancelTask", jobName: jobNameFor("r1", "flaky", 1) }),
    );
    const final = play(late.run, [[{ type: "task.timedOut", task: "flaky", attempt: 2 }, at(200)]]);
    expect(taskState(final.run, "flaky")).toMatchObject({ status: "failed", reason: "TimedOut" });
  });

  it("fails a task whose Job disappeared (never a success)", () => {
    const once = pipeline({ stages: [{ name: "s", tasks: [runTask("a")] }] });
    const { run } = play(newRun({ pipeline: once }), [
      started(),
      { type: "task.lost", task: "a", attempt: 1 },
    ]);
    expect(taskState(run, "a")).toMatchObject({ status: "failed", reason: "Lost" });
  });
});

describe("job names", () => {
  it("are DNS-1123 labels of at most 63 characters, distinct across runs, tasks and attempts", () => {
    const names = new Set<string>();
    const long = "a-very-long-task-name-that-goes-on-and-on-and-on-and-on-forever";
    for (const run of ["r1", "r2", "01jd2x3y4z5a6b7c8d9e0f1g2h"])
      for (const task of ["unit", "lint", long])
        for (const attempt of [1, 2, 11]) {
          const name = jobNameFor(run, task, attempt);
          expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
          expect(name.length).toBeLessThanOrEqual(63);
          names.add(name);
        }
    expect(names.size).toBe(27);
    expect(jobNameFor("r1", "unit", 1)).toBe(jobNameFor("r1", "unit", 1));
  });
});
