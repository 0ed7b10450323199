import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dueMoments, nextObservationAt, wakeUpDue } from "../../core/engine/follow-up.js";
import { stageStatus, transition } from "../../core/engine/index.js";
import {
  ATTEMPTS_KEPT_PER_TASK,
  isActiveTask,
  isTerminalRun,
  isTerminalTask,
  type Run,
  type RunEvent,
  runStagesOf,
} from "../../core/model/index.js";
import { at, newRun, pipeline, runTask } from "../helpers/factories.js";

const p = pipeline({
  notify: [{ kind: "webhook", url: "https://example.com/h", on: ["run.failed", "task.waiting"] }],
  concurrency: { group: "g", cancelInProgress: false },
  stages: [
    {
      name: "a",
      parallel: true,
      tasks: [
        runTask("a1", { retries: 1, timeoutSeconds: 30 }),
        runTask("a2", { ignoreFailed: true }),
        runTask("a3", { when: { tags: ["v*"] } }),
      ],
    },
    {
      name: "b",
      tasks: [runTask("b1", { approval: { approvers: ["alice"] } }), runTask("b2", { retries: 2 })],
    },
    { name: "c", parallel: true, tasks: [runTask("c1"), runTask("c2")] },
  ],
});
const TASKS = ["a1", "a2", "a3", "b1", "b2", "c1", "c2", "zz"];

const taskEvent = fc.record({
  type: fc.constantFrom(
    "task.submitted",
    "task.started",
    "task.succeeded",
    "task.failed",
    "task.lost",
    "task.timedOut",
    "task.outputs",
    "task.submitFailed",
    "task.waitingForRoom",
  ),
  task: fc.constantFrom(...TASKS),
  attempt: fc.integer({ min: 1, max: 4 }),
  // A start reported by the relay (core/engine/follow-up.ts) or by the task itself.
  relay: fc.boolean(),
});
const event: fc.Arbitrary<RunEvent> = fc.oneof(
  {
    weight: 10,
    arbitrary: taskEvent.map((e) => ({ ...e, message: "m", outputs: "K=v", limit: 2 }) as RunEvent),
  },
  { weight: 1, arbitrary: fc.constant<RunEvent>({ type: "run.created", groupAhead: [] }) },
  { weight: 1, arbitrary: fc.constant<RunEvent>({ type: "run.created", groupAhead: ["older"] }) },
  { weight: 2, arbitrary: fc.constant<RunEvent>({ type: "reconcile", groupAhead: [] }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<RunEvent>(
      { type: "approval.granted", task: "b1", by: "alice" },
      { type: "approval.denied", task: "b1", by: "alice" },
      { type: "approval.granted", task: "b1", by: "eve" },
    ),
  },
  { weight: 1, arbitrary: fc.constant<RunEvent>({ type: "cancel.requested" }) },
  {
    weight: 1,
    arbitrary: fc
      .boolean()
      .map<RunEvent>((failedOnly) => ({ type: "rerun.requested", failedOnly, groupAhead: [] })),
  },
);

/** Invariants every reachable run keeps; returns the first one broken. */
function broken(run: Run, previous: Run, lastEvent: RunEvent): string | undefined {
  const defs = runStagesOf(run.definition);
  const stages = run.stages.map((s, i) => stageStatus(s, defs[i]?.tasks ?? []));
  for (const [i, stage] of run.stages.entries()) {
    const busy = stage.tasks.some((t) => isActiveTask(t.status) || t.status === "waiting");
    const earlierOpen = stages
      .slice(0, i)
      .some((s) => !["succeeded", "skipped", "failed", "canceled"].includes(s));
    if (busy && earlierOpen) return `stage ${stage.name} is active while an earlier stage is not terminal`;
  }
  const tasks = run.stages.flatMap((s) => s.tasks);
  for (const t of tasks) {
    if (isTerminalTask(t.status) && !t.finishedAt) return `${t.name} is terminal without finishedAt`;
    if (isTerminalTask(t.status) && t.deadline) return `${t.name} is terminal with a deadline`;
    if (isActiveTask(t.status) && !t.jobName) return `${t.name} is ${t.status} without a Job`;
    if (t.attempt < t.roundStart) return `${t.name} attempt below its round`;
    if ((t.relayedAttempt ?? 0) > t.attempt) return `${t.name} watched by the relay on an attempt not made`;
  }
  if (isTerminalRun(run.status) && tasks.some((t) => !isTerminalTask(t.status)))
    return "a terminal run has unfinished tasks";
  if (isTerminalRun(previous.status) && !isTerminalRun(run.status) && lastEvent.type !== "rerun.requested")
    return `a ${previous.status} run became ${run.status}`;
  if (
    run.status === "pending" &&
    tasks.some((t) => t.status !== "pending" && t.status !== "succeeded" && !isTerminalTask(t.status))
  )
    return "a pending run has started tasks";
  if (run.outbox.length !== new Set(run.outbox.map((e) => e.key)).size) return "duplicate outbox keys";
  return undefined;
}

describe("the engine under random event sequences", () => {
  it("never produces an invalid run, and applying any event twice changes nothing more", () => {
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 60, maxLength: 60 }),
        (events, gaps) => {
          let run = newRun({ pipeline: p });
          let clock = 0;
          for (const [i, e] of events.entries()) {
            clock += gaps[i] ?? 0;
            // Pick the attempt the task is really on half the time, so sequences get somewhere.
            const ev =
              "attempt" in e && i % 2 === 0
                ? {
                    ...e,
                    attempt: Math.max(
                      1,
                      run.stages.flatMap((s) => s.tasks).find((t) => t.name === e.task)?.attempt ?? 1,
                    ),
                  }
                : e;
            const now = at(clock);
            const once = transition(run, ev, now);
            const problem = broken(once.run, run, ev);
            if (problem) throw new Error(`${problem} after ${JSON.stringify(ev)}`);
            if (ev.type !== "rerun.requested") {
              const twice = transition(once.run, ev, now);
              expect(twice.run).toBe(once.run);
              if (ev.type !== "reconcile") expect(twice.effects).toEqual([]);
            }
            run = once.run;
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

/** A pipeline with a graph, a serial stage using needs, finally tasks, backoff, a run timeout and a task limit. */
const flow = pipeline({
  timeoutSeconds: 400,
  maxRunningTasks: 2,
  concurrency: { group: "g", max: 2 },
  stages: [
    {
      name: "graph",
      parallel: true,
      tasks: [
        runTask("g1", { retries: { limit: 1, backoffSeconds: 5 } }),
        runTask("g2", { ignoreFailed: true }),
        runTask("g3", { needs: ["g1", "g2"] }),
        runTask("g4", { needs: ["g3"], timeoutSeconds: 30 }),
      ],
    },
    {
      name: "serial",
      tasks: [runTask("s1", { approval: { approvers: ["alice"] } }), runTask("s2", { needs: ["g1"] })],
    },
  ],
  finally: [runTask("f1"), runTask("f2", { needs: ["f1"] })],
});
const FLOW_TASKS = ["g1", "g2", "g3", "g4", "s1", "s2", "f1", "f2"];
const FINALLY = ["f1", "f2"];

const flowEvent: fc.Arbitrary<RunEvent> = fc.oneof(
  {
    weight: 12,
    arbitrary: taskEvent
      .chain((e) => fc.constantFrom(...FLOW_TASKS).map((task) => ({ ...e, task })))
      .map((e) => ({ ...e, message: "m", outputs: "K=v", limit: 2 }) as RunEvent),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<RunEvent>(
      { type: "run.created", groupAhead: ["older"] },
      { type: "run.created", groupAhead: ["a", "b"] },
    ),
  },
  { weight: 3, arbitrary: fc.constant<RunEvent>({ type: "reconcile", groupAhead: [] }) },
  { weight: 1, arbitrary: fc.constant<RunEvent>({ type: "approval.granted", task: "s1", by: "alice" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...FLOW_TASKS).map<RunEvent>((task) => ({ type: "cancel.requested", task })),
  },
  { weight: 1, arbitrary: fc.constant<RunEvent>({ type: "cancel.requested" }) },
  {
    weight: 2,
    arbitrary: fc
      .record({ task: fc.constantFrom(...FLOW_TASKS), downstream: fc.boolean(), whole: fc.boolean() })
      .map<RunEvent>(({ task, downstream, whole }) =>
        whole
          ? { type: "rerun.requested", failedOnly: downstream, groupAhead: [] }
          : { type: "rerun.requested", task, downstream, groupAhead: [] },
      ),
  },
);

/** The flow's own invariants, on top of `broken`'s. */
function brokenFlow(run: Run): string | undefined {
  const tasks = run.stages.flatMap((s) => s.tasks);
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const defs = new Map(
    runStagesOf(run.definition)
      .flatMap((s) => s.tasks)
      .map((t) => [t.name, t]),
  );
  for (const task of tasks) {
    // A task queued, running or waiting for approval started: each of its needs succeeded before.
    if (isActiveTask(task.status) || task.status === "waiting")
      for (const need of defs.get(task.name)?.needs ?? [])
        if (byName.get(need)?.status !== "succeeded")
          return `${task.name} is ${task.status} while its need ${need} is ${byName.get(need)?.status}`;
    if ((task.history ?? []).length > ATTEMPTS_KEPT_PER_TASK) return `${task.name} keeps too many attempts`;
  }
  if (tasks.filter((t) => isActiveTask(t.status)).length > 2) return "more than maxRunningTasks active";
  for (const name of FINALLY) {
    const t = byName.get(name);
    if (!t) return `${name} missing`;
    // Exactly once a round: no retries, so never a second attempt in one round...
    if (t.attempt - t.roundStart > 1) return `${name} ran twice in round ${run.round}`;
    // ...and once the run ended (not canceled), each ran, unless someone canceled it alone before it started or
    // what it needs did not succeed.
    const ended = run.status === "succeeded" || run.status === "failed";
    if (ended && t.attempt - t.roundStart !== 1 && t.status !== "canceled") {
      const needsMet = (defs.get(name)?.needs ?? []).every((n) => byName.get(n)?.status === "succeeded");
      if (needsMet) return `${name} did not run in a ${run.status} round`;
    }
  }
  if (run.status === "succeeded") {
    const main = run.stages.filter((s) => !s.finally).flatMap((s) => s.tasks);
    const failing = main.find(
      (t) =>
        t.reason === "RunTimedOut" ||
        ((t.status === "failed" || t.status === "canceled") && !defs.get(t.name)?.ignoreFailed),
    );
    if (failing) return `the run succeeded although ${failing.name} is ${failing.status}`;
  }
  return undefined;
}

/**
 * Slots of the pipeline's `maxRunningTasks`: an attempt that was ever queued or running owes its slot back once
 * it is neither (a `releaseSlot` in the outbox, kept until delivered, under one key per attempt), and never
 * before. `seen`: every Job name that was active so far in the sequence.
 */
function brokenSlots(run: Run, seen: Set<string>): string | undefined {
  const active = new Set(
    run.stages.flatMap((s) => s.tasks.filter((t) => isActiveTask(t.status)).map((t) => t.jobName)),
  );
  for (const name of active) if (name) seen.add(name);
  const owed = new Set(run.outbox.filter((e) => e.type === "releaseSlot").map((e) => e.key));
  for (const name of seen) {
    if (active.has(name) && owed.has(`slot:${name}`)) return `${name} gives its slot back while active`;
    if (!active.has(name) && !owed.has(`slot:${name}`)) return `${name} ended without giving its slot back`;
  }
  return undefined;
}

describe("the engine under random event sequences, on a flow", () => {
  it("keeps needs, finally (once a round) and limits, and applying any event twice changes nothing more", () => {
    fc.assert(
      fc.property(
        fc.array(flowEvent, { maxLength: 80 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 80, maxLength: 80 }),
        (events, gaps) => {
          let run = newRun({ pipeline: flow });
          let clock = 0;
          const seen = new Set<string>();
          for (const [i, e] of events.entries()) {
            clock += gaps[i] ?? 0;
            const ev =
              "attempt" in e && i % 3 !== 0
                ? {
                    ...e,
                    attempt: Math.max(
                      1,
                      run.stages.flatMap((s) => s.tasks).find((t) => t.name === e.task)?.attempt ?? 1,
                    ),
                  }
                : e;
            const now = at(clock);
            const once = transition(run, ev, now);
            const problem = broken(once.run, run, ev) ?? brokenFlow(once.run) ?? brokenSlots(once.run, seen);
            if (problem) throw new Error(`${problem} after ${JSON.stringify(ev)}`);
            if (ev.type !== "rerun.requested") {
              const twice = transition(once.run, ev, now);
              expect(twice.run).toBe(once.run);
              if (ev.type !== "reconcile") expect(twice.effects).toEqual([]);
            }
            run = once.run;
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

/**
 * The flow with short deadlines everywhere (each task's timeout, its approval's), so that every kind of moment a
 * wake-up is asked for comes well before the run's own timeout.
 */
const timedFlow = pipeline({
  ...flow,
  stages: flow.stages.map((stage) => ({
    ...stage,
    tasks: stage.tasks.map((t) => ({
      ...t,
      timeoutSeconds: t.timeoutSeconds ?? 25,
      ...(t.approval && { approval: { ...t.approval, timeoutSeconds: 20, onTimeout: "skip" as const } }),
    })),
  })),
});

describe("wake-ups that find nothing due (wakeUpDue), under random event sequences", () => {
  it("never drops one when a reconcile at its instant would change the run, a task needs a look, or a moment asked for has come", () => {
    let dropped = 0;
    let changed = 0;
    fc.assert(
      fc.property(
        fc.array(flowEvent, { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 60, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 60, maxLength: 60 }),
        // Short task and approval deadlines, or a run timeout that comes first.
        fc.constantFrom(timedFlow, pipeline({ ...flow, timeoutSeconds: 60 })),
        (events, gaps, later, definition) => {
          let run = newRun({ pipeline: definition });
          let clock = 0;
          for (const [i, e] of events.entries()) {
            clock += gaps[i] ?? 0;
            const ev =
              "attempt" in e && i % 3 !== 0
                ? {
                    ...e,
                    attempt: Math.max(
                      1,
                      run.stages.flatMap((s) => s.tasks).find((t) => t.name === e.task)?.attempt ?? 1,
                    ),
                  }
                : e;
            run = transition(run, ev, at(clock)).run;
            // A wake-up arriving now or later, with nothing else having happened to the run meanwhile.
            const instant = at(clock + (later[i] ?? 0));
            const due = wakeUpDue(run, instant);
            if (transition(run, { type: "reconcile" }, instant).run !== run) {
              changed++;
              expect(due).toBe(true);
            }
            if (nextObservationAt(run, instant) !== undefined) expect(due).toBe(true);
            if (dueMoments(run, at(clock)).some((m) => m.at <= instant)) expect(due).toBe(true);
            if (!due) dropped++;
          }
        },
      ),
      { numRuns: 300 },
    );
    // Both sides were met: runs a reconcile changed, and wake-ups that would have been dropped.
    expect(changed).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
  });
});
