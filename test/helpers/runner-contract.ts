import { describe, expect, it } from "vitest";
import { systemClock } from "../../core/adapters/system.js";
import { PermanentError } from "../../core/errors.js";
import type { TaskLaunch } from "../../core/model/index.js";
import type { CollectedLog, JobObservation, JobRef, LogArchive, TaskRunner } from "../../core/ports.js";
import { LogArchiving, withoutTimes } from "../../core/services/log-archiving.js";
import { TaskTokens } from "../../core/services/tokens.js";
import { newRun } from "./factories.js";
import { waitFor } from "./wait.js";

/** How a test ends an attempt: what it prints, what it reports, how it exits. */
export interface Ending {
  log: string;
  terminationMessage?: string;
  /** 0 succeeds; anything else fails. */
  exitCode: number;
}

/** A runner under test and the controls of what stands behind it (a fake cluster, processes, memory). */
export interface RunnerSubject {
  runner: TaskRunner;
  /** A launch the runner can run: its task waits until the test ends it. */
  launch(jobName: string): TaskLaunch;
  /** Ends a submitted attempt that is running. */
  end(launch: TaskLaunch, ending: Ending): Promise<void>;
  /** How many attempts the runner created (Jobs, processes, records). */
  created(): Promise<number>;
  /** A running attempt writes `text` to its output now (resolves once it is written). */
  say(launch: TaskLaunch, text: string): Promise<void>;
  /** The container the task's own output is in (the runner's name for it). */
  taskContainer: string;
  /** An init container every launch runs first, and what it printed by the time `end` is called; none locally. */
  initContainer?: { name: string; log: string };
  /** Where LogArchiving keeps what this runner collects (S3 on s3rver; in memory for the in-memory runner). */
  archive(): Promise<LogArchive>;
}

export interface RunnerHarness {
  name: string;
  /** A fresh runner for one test, torn down when it ends (onTestFinished). */
  setUp(): Promise<RunnerSubject>;
}

export const refOf = (launch: TaskLaunch): JobRef => ({
  runId: launch.runId,
  task: launch.task,
  attempt: launch.attempt,
  jobName: launch.jobName,
});

export function baseLaunch(jobName: string, source: TaskLaunch["source"]): TaskLaunch {
  const attempt = Number(/-(\d+)$/.exec(jobName)?.[1] ?? 1);
  return {
    runId: "r1",
    pipeline: "web-app",
    task: "unit",
    attempt,
    jobName,
    timeoutSeconds: 600,
    env: { HOOKFLOW_RUN_ID: "r1", HOOKFLOW_TASK: "unit" },
    secretEnv: { HOOKFLOW_TASK_TOKEN: "task-token" },
    source,
  };
}

const isTerminal = (o: JobObservation) => o.state === "succeeded" || o.state === "failed";

function terminal(runner: TaskRunner, launch: TaskLaunch): Promise<JobObservation> {
  return waitFor(() => runner.observe(refOf(launch)), {
    until: isTerminal,
    what: `${launch.jobName} to end`,
    timeoutMs: 30_000,
  });
}

/** Running: what `end` needs, since an attempt ends only once it runs. */
export function running(runner: TaskRunner, launch: TaskLaunch): Promise<JobObservation> {
  return waitFor(() => runner.observe(refOf(launch)), {
    until: (o) => o.state === "running",
    what: `${launch.jobName} to run`,
    timeoutMs: 30_000,
  });
}

/**
 * The runner contract (TaskRunner in core/ports.ts) as tests: one set, run against every runner. A runner that
 * passes them is interchangeable with the others as far as the services can tell.
 */
export function runnerContract(harness: RunnerHarness): void {
  describe(`the runner contract: ${harness.name}`, () => {
    it("submit twice, also concurrently: one attempt, run once", async () => {
      const { runner, launch, end, created, taskContainer } = await harness.setUp();
      const task = launch("hf-unit-twice-1");
      await Promise.all([runner.submit(task), runner.submit(task), runner.submit(task)]);
      await runner.submit(task);
      expect(await created()).toBe(1);
      await running(runner, task);
      await end(task, { log: "ran\n", exitCode: 0 });
      expect((await terminal(runner, task)).state).toBe("succeeded");
      await runner.submit(task);
      expect(await created()).toBe(1);
      expect((await runner.observe(refOf(task))).state).toBe("succeeded");
      expect(await runner.logs(refOf(task), { container: taskContainer })).toBe("ran\n");
    });

    it("observe after submit: the attempt exists, pending or running, never missing", async () => {
      const { runner, launch } = await harness.setUp();
      const task = launch("hf-unit-observe-1");
      await runner.submit(task);
      expect(["pending", "running"]).toContain((await runner.observe(refOf(task))).state);
    });

    it("observe follows the attempt to success, with its termination message; logs whole or their tail", async () => {
      const { runner, launch, end, taskContainer: container } = await harness.setUp();
      const task = launch("hf-unit-success-1");
      await runner.submit(task);
      await running(runner, task);
      await end(task, { log: "one\ntwo\nthree\n", terminationMessage: "IMAGE=web:1\n", exitCode: 0 });
      expect(await terminal(runner, task)).toEqual({
        state: "succeeded",
        terminationMessage: "IMAGE=web:1\n",
      });
      const ref = refOf(task);
      expect(await runner.logs(ref, { container })).toBe("one\ntwo\nthree\n");
      expect(await runner.logs(ref, { tail: 2, container })).toBe("two\nthree\n");
      expect(await runner.logs(ref, { tail: 10, container })).toBe("one\ntwo\nthree\n");
      expect(await runner.logs(ref, { tail: 0, container })).toBe("");
    });

    it("a failed attempt observes as failed with a message, and stays failed", async () => {
      const { runner, launch, end, taskContainer } = await harness.setUp();
      const task = launch("hf-unit-failure-1");
      await runner.submit(task);
      await running(runner, task);
      await end(task, { log: "boom\n", exitCode: 3 });
      const observed = await terminal(runner, task);
      expect(observed.state).toBe("failed");
      expect(observed.message).toMatch(/3/);
      expect(await runner.observe(refOf(task))).toEqual(observed);
      expect(await runner.logs(refOf(task), { container: taskContainer })).toBe("boom\n");
    });

    it("cancel then observe: failed or missing, never pending, running or succeeded; cancel again is safe", async () => {
      const { runner, launch } = await harness.setUp();
      const task = launch("hf-unit-cancel-1");
      await runner.submit(task);
      await running(runner, task);
      await runner.cancel(refOf(task));
      const observed = await runner.observe(refOf(task));
      expect(["failed", "missing"]).toContain(observed.state);
      await expect(runner.cancel(refOf(task))).resolves.toBeUndefined();
      expect(await runner.observe(refOf(task))).toEqual(observed);
      expect(typeof (await runner.logs(refOf(task)))).toBe("string");
    });

    it("cancel after the attempt ended: it keeps its outcome or is gone, never turns into another", async () => {
      const { runner, launch, end } = await harness.setUp();
      const task = launch("hf-unit-ended-1");
      await runner.submit(task);
      await running(runner, task);
      await end(task, { log: "done\n", exitCode: 0 });
      const outcome = await terminal(runner, task);
      await runner.cancel(refOf(task));
      const after = await runner.observe(refOf(task));
      expect([outcome, { state: "missing" }]).toContainEqual(after);
    });

    it("an attempt never submitted: observe says missing, logs are empty, cancel is harmless", async () => {
      const { runner, launch, created } = await harness.setUp();
      const ref = refOf(launch("hf-unit-never-1"));
      expect(await runner.observe(ref)).toEqual({ state: "missing" });
      expect(await runner.logs(ref)).toBe("");
      expect(await runner.logs(ref, { tail: 5 })).toBe("");
      await expect(runner.cancel(ref)).resolves.toBeUndefined();
      expect(await runner.observe(ref)).toEqual({ state: "missing" });
      expect(await created()).toBe(0);
    });

    it("collectLogs: every container that ran, init containers first, the task's output whole; ended once it ended", async () => {
      const { runner, launch, end, say, taskContainer, initContainer } = await harness.setUp();
      const task = launch("hf-unit-collect-1");
      await runner.submit(task);
      await running(runner, task);
      await say(task, "so far\n");
      const live = found(await runner.collectLogs(refOf(task)));
      expect(live.ended).toBe(false);
      expect(textOf(live, taskContainer)).toBe("so far\n");

      await end(task, { log: "one\ntwo\n", exitCode: 0 });
      await terminal(runner, task);
      const ended = found(await runner.collectLogs(refOf(task)));
      expect(ended.ended).toBe(true);
      expect(ended.containers.map((c) => [c.name, c.init])).toEqual([
        ...(initContainer ? [[initContainer.name, true]] : []),
        [taskContainer, false],
      ]);
      if (initContainer) expect(textOf(ended, initContainer.name)).toBe(initContainer.log);
      expect(textOf(ended, taskContainer)).toBe("so far\none\ntwo\n");
      // Reads only: a second collection finds the same.
      expect(found(await runner.collectLogs(refOf(task))).containers.map((c) => c.name)).toEqual(
        ended.containers.map((c) => c.name),
      );
    });

    it("collectLogs gives the task's output as written; the archive keeps it masked (the attempt's token)", async () => {
      const { runner, launch, end, taskContainer, archive } = await harness.setUp();
      const task = launch("hf-unit-mask-1");
      const ref = refOf(task);
      const tokens = new TaskTokens("contract-token-secret");
      await runner.submit(task);
      await running(runner, task);
      await end(task, { log: `pushing with ${tokens.tokenFor(ref)}\n`, exitCode: 0 });
      await terminal(runner, task);
      // The runner does not mask: LogArchiving does, once, on the way in.
      expect(textOf(found(await runner.collectLogs(ref)), taskContainer)).toBe(
        `pushing with ${tokens.tokenFor(ref)}\n`,
      );

      const kept = await archive();
      const archiving = new LogArchiving({ archive: kept, runner, tokens, clock: systemClock });
      const event = await archiving.copy(
        newRun({ id: ref.runId }),
        { ...ref, key: `archive:${task.jobName}` },
        false,
      );
      expect(event).toMatchObject({
        type: "log.archived",
        containers: expect.arrayContaining([taskContainer]),
      });
      const read = await kept.read(ref, taskContainer, { minBytes: 1 << 20 });
      expect(withoutTimes(read.text)).toBe("pushing with ******\n");
    });

    it("collectLogs of an attempt never submitted: gone, never an empty log", async () => {
      const { runner, launch } = await harness.setUp();
      expect(await runner.collectLogs(refOf(launch("hf-unit-nolog-1")))).toEqual({ state: "gone" });
    });

    it("stop: the attempt ends at once, keeps what it wrote, starts nothing again; stop again is safe", async () => {
      const { runner, launch, say, created, taskContainer } = await harness.setUp();
      const task = launch("hf-unit-stop-1");
      await runner.submit(task);
      await running(runner, task);
      await say(task, "halfway\n");

      await runner.stop(refOf(task));
      const stopped = await terminal(runner, task);
      expect(stopped.state).toBe("failed");
      const kept = await waitFor(async () => found(await runner.collectLogs(refOf(task))), {
        until: (c) => c.ended,
        what: `${task.jobName}'s log to be complete`,
      });
      expect(textOf(kept, taskContainer)).toBe("halfway\n");
      await expect(runner.stop(refOf(task))).resolves.toBeUndefined();
      expect(await runner.observe(refOf(task))).toEqual(stopped);
      expect(await created()).toBe(1);
    });

    it("stop after the attempt ended keeps its outcome; stop of one never submitted is harmless", async () => {
      const { runner, launch, end, created } = await harness.setUp();
      const task = launch("hf-unit-stopdone-1");
      await runner.submit(task);
      await running(runner, task);
      await end(task, { log: "done\n", exitCode: 0 });
      const outcome = await terminal(runner, task);
      await runner.stop(refOf(task));
      expect(await runner.observe(refOf(task))).toEqual(outcome);

      const never = refOf(launch("hf-unit-stopnever-1"));
      await expect(runner.stop(never)).resolves.toBeUndefined();
      expect(await runner.observe(never)).toEqual({ state: "missing" });
      expect(await created()).toBe(1);
    });

    it("submit refuses a launch that can never be accepted with PermanentError, and creates nothing", async () => {
      const { runner, launch, created } = await harness.setUp();
      const bad = { ...launch("hf-unit-bad-1"), jobName: "Not_A-DNS-label" };
      await expect(runner.submit(bad)).rejects.toBeInstanceOf(PermanentError);
      expect(await created()).toBe(0);
    });
  });
}

function found(collected: CollectedLog): Extract<CollectedLog, { state: "found" }> {
  if (collected.state !== "found")
    throw new Error(`expected a log to collect, got ${JSON.stringify(collected)}`);
  return collected;
}

/** One container's collected text, without the line times a runner may add. */
function textOf(collected: Extract<CollectedLog, { state: "found" }>, container: string): string | undefined {
  const log = collected.containers.find((c) => c.name === container);
  return log && (log.timestamps ? withoutTimes(log.text) : log.text);
}
