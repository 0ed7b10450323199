import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FOLLOW_UP,
  nextFollowUp,
  nextObservationAt,
  relayWatches,
  wakeUpDue,
} from "../../core/engine/follow-up.js";
import { transition } from "../../core/engine/index.js";
import { reportKind } from "../../core/engine/reports.js";
import type { Run, TaskStatus } from "../../core/model/index.js";
import { newRun, pipeline, runTask, taskState } from "../helpers/factories.js";

const T = Date.parse("2026-01-01T00:00:00.000Z");
const instant = (seconds: number) => T + seconds * 1000;
const at = (s: number) => new Date(instant(s)).toISOString();

function threeTasks(): Run {
  return newRun({
    pipeline: pipeline({
      stages: [{ name: "s", parallel: true, tasks: [runTask("a"), runTask("b"), runTask("c")] }],
    }),
  });
}

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
    const run = threeTasks();
    const a = taskState(run, "a");
    const b = taskState(run, "b");
    const c = taskState(run, "c");
    Object.assign(a, { status: "running", submittedAt: at(0) });
    Object.assign(b, { status: "queued", submittedAt: at(10) });
    Object.assign(c, { status: "succeeded", submittedAt: at(11) });
    // a: 12 s in, next at 16; b: 2 s in, next at 14; c has ended.
    expect(nextObservationAt(run, at(12))).toBe(at(14));
    Object.assign(a, { status: "succeeded" });
    Object.assign(b, { status: "failed" });
    expect(nextObservationAt(run, at(12))).toBeUndefined();
  });

  it("skips an attempt the relay watches, and looks again at a later attempt it has not reported", () => {
    const run = threeTasks();
    const a = taskState(run, "a");
    const b = taskState(run, "b");
    Object.assign(a, { status: "running", submittedAt: at(0), attempt: 1, relayedAttempt: 1 });
    Object.assign(b, { status: "running", submittedAt: at(10), attempt: 1 });
    // a is watched: only b's schedule counts (2 s in, next at 14), not a's 16.
    expect(nextObservationAt(run, at(12))).toBe(at(14));
    Object.assign(b, { relayedAttempt: 1 });
    expect(nextObservationAt(run, at(12))).toBeUndefined();
    // b's retry is a new attempt, its Job a new one: looked at again until the relay reports it.
    Object.assign(b, { status: "queued", attempt: 2, submittedAt: at(20) });
    expect(relayWatches(b)).toBe(false);
    expect(nextObservationAt(run, at(20))).toBe(at(21));
  });

  const schedule = fc.record({
    submitted: fc.integer({ min: 0, max: 10 ** 9 }),
    elapsedMs: fc.integer({ min: 0, max: 6 * 3600 * 1000 }),
  });

  it("always looks after now, on fixed instants from the submission: 1, 2, 4, 8 s, then every 8 s", () => {
    fc.assert(
      fc.property(schedule, ({ submitted, elapsedMs }) => {
        const next = nextFollowUp(submitted, submitted + elapsedMs);
        const offset = (next - submitted) / 1000;
        expect(next).toBeGreaterThan(submitted + elapsedMs);
        const doubling = [1, 2, 4, FOLLOW_UP.doublingUntilSeconds];
        expect(
          doubling.includes(offset) ||
            (offset > FOLLOW_UP.doublingUntilSeconds &&
              (offset - FOLLOW_UP.doublingUntilSeconds) % FOLLOW_UP.everySeconds === 0),
        ).toBe(true);
      }),
    );
  });

  it("bounds the wait after any instant by the tail's period, and asks every look in between for the same one", () => {
    fc.assert(
      fc.property(schedule, fc.double({ min: 0, max: 1, noNaN: true }), ({ submitted, elapsedMs }, f) => {
        const now = submitted + elapsedMs;
        const next = nextFollowUp(submitted, now);
        // An end at `now` is observed by `next`: at most the tail's period later (issue 14's bound).
        expect(next - now).toBeLessThanOrEqual(FOLLOW_UP.everySeconds * 1000);
        // A look at any moment before `next` asks for `next` again: the wake-ups deduplicate.
        const between = now + Math.floor(f * (next - now - 1));
        expect(nextFollowUp(submitted, between)).toBe(next);
      }),
    );
  });

  const states: TaskStatus[] = ["pending", "queued", "running", "succeeded", "failed", "canceled"];
  const taskFacts = fc.record({
    status: fc.constantFrom(...states),
    submittedAt: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
    attempt: fc.integer({ min: 1, max: 3 }),
    relayedAttempt: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  });

  it("is the earliest of the tasks' own schedules, over the active, submitted ones the relay does not watch", () => {
    fc.assert(
      fc.property(
        fc.tuple(taskFacts, taskFacts, taskFacts),
        fc.integer({ min: 0, max: 3600 }),
        (facts, now) => {
          const run = threeTasks();
          const tasks = ["a", "b", "c"].map((name) => taskState(run, name));
          for (const [i, f] of facts.entries())
            Object.assign(tasks[i] as object, {
              ...f,
              submittedAt: f.submittedAt === undefined ? undefined : at(f.submittedAt),
            });
          const due = facts
            .filter(
              (f) =>
                (f.status === "queued" || f.status === "running") &&
                f.submittedAt !== undefined &&
                f.relayedAttempt !== f.attempt,
            )
            .map((f) => nextFollowUp(instant(f.submittedAt as number), instant(now)));
          const expected = due.length === 0 ? undefined : new Date(Math.min(...due)).toISOString();
          expect(nextObservationAt(run, at(now))).toBe(expected);
        },
      ),
    );
  });
});

describe("whether a wake-up finds anything due (wakeUpDue)", () => {
  function started(): Run {
    const run = threeTasks();
    Object.assign(run, { status: "running", startedAt: at(0) });
    return run;
  }

  it("is due while a submitted task is out there unwatched, whatever the instant, and not once it ended", () => {
    const run = started();
    Object.assign(taskState(run, "a"), { status: "running", attempt: 1, submittedAt: at(0) });
    expect(wakeUpDue(run, at(1))).toBe(true);
    expect(wakeUpDue(run, at(500))).toBe(true);
    Object.assign(taskState(run, "a"), { relayedAttempt: 1 });
    expect(wakeUpDue(run, at(1))).toBe(false);
    Object.assign(taskState(run, "a"), { status: "succeeded", finishedAt: at(0.5) });
    expect(wakeUpDue(run, at(1))).toBe(false);
    Object.assign(run, { status: "succeeded", finishedAt: at(0.5) });
    expect(wakeUpDue(run, at(1))).toBe(false);
  });

  it("is due from a deadline, a retry's backoff or the run's timeout on, not before", () => {
    const run = started();
    const a = taskState(run, "a");
    // The relay watches a: only its deadline can make a wake-up due.
    Object.assign(a, {
      status: "running",
      attempt: 1,
      relayedAttempt: 1,
      submittedAt: at(0),
      deadline: at(30),
    });
    expect(wakeUpDue(run, at(29))).toBe(false);
    expect(wakeUpDue(run, at(30))).toBe(true);
    // Waiting for a slot, its timeout has not started.
    Object.assign(a, { status: "queued", reason: "WaitingForRoom", submittedAt: undefined });
    expect(wakeUpDue(run, at(30))).toBe(false);
    Object.assign(a, { status: "waiting", reason: "AwaitingApproval" });
    expect(wakeUpDue(run, at(30))).toBe(true);
    Object.assign(a, { status: "pending", reason: "RetryWaiting", deadline: undefined, retryAt: at(40) });
    expect(wakeUpDue(run, at(39))).toBe(false);
    expect(wakeUpDue(run, at(40))).toBe(true);
    Object.assign(a, { retryAt: undefined });
    Object.assign(run, { definition: { ...run.definition, timeoutSeconds: 60 } });
    expect(wakeUpDue(run, at(59))).toBe(false);
    expect(wakeUpDue(run, at(60))).toBe(true);
  });
});

describe("the relay's report that an attempt runs", () => {
  function submitted() {
    const run = threeTasks();
    Object.assign(run, { status: "running", startedAt: at(0) });
    Object.assign(taskState(run, "a"), {
      status: "queued",
      reason: "Queued",
      attempt: 1,
      jobName: "job-a-1",
      submittedAt: at(0),
    });
    return run;
  }
  const relayed = { type: "task.started", task: "a", attempt: 1, relay: true } as const;
  const own = { type: "task.started", task: "a", attempt: 1 } as const;

  it("starts a queued attempt and records that the relay watches it", () => {
    const { run, ignored } = transition(submitted(), relayed, at(1));
    expect(ignored).toBeUndefined();
    expect(taskState(run, "a")).toMatchObject({ status: "running", relayedAttempt: 1, startedAt: at(1) });
    expect(nextObservationAt(run, at(1))).toBeUndefined();
  });

  it("is news for an attempt already known running, once; the task's own start after it is a duplicate", () => {
    const running = transition(submitted(), own, at(1)).run;
    expect(nextObservationAt(running, at(1))).toBe(at(2));
    const watched = transition(running, relayed, at(2));
    expect(watched.ignored).toBeUndefined();
    expect(taskState(watched.run, "a")).toMatchObject({
      status: "running",
      relayedAttempt: 1,
      startedAt: at(1),
    });
    expect(transition(watched.run, relayed, at(3)).ignored?.reason).toBe("Duplicate");
    expect(transition(watched.run, own, at(3)).ignored?.reason).toBe("Duplicate");
  });

  it("about an earlier attempt changes nothing", () => {
    const run = submitted();
    Object.assign(taskState(run, "a"), { attempt: 2, jobName: "job-a-2" });
    expect(transition(run, relayed, at(1)).ignored?.reason).toBe("StaleAttempt");
  });

  it("is kept apart from the task's own start, so neither hides the other", () => {
    const hash = (text: string) => text;
    expect(reportKind(relayed, hash)).toBe("started#relay");
    expect(reportKind(own, hash)).toBe("started");
  });
});
