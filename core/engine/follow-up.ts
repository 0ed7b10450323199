import { isActiveTask, isTerminalRun, type Run, type TaskState } from "../model/index.js";
import { backoffWaits, deadlinePassed, runDeadline } from "./plan.js";

/**
 * Follow-up observations of a submitted task, so that a task that never calls back is seen to end within
 * seconds rather than at the reconciler's next tick: 1, 2, 4 and 8 s after it was submitted, then every 8 s
 * while it is queued or running, so that without the relay an end waits at most 8 s for its observation
 * (bench/stage-advance.ts: p99 under 10 s). The tail does not back off for long tasks: the bound is on the wait
 * after any Job's end, and a longer period is that much longer a wait for exactly the tasks that run long. Each
 * look is a wake-up, a reconcile message, a scheduler invocation, a run read and 2-3 Kubernetes API reads per
 * task: 7.5 a minute per running task (bench/pipeline-throughput.ts prices them). The times are fixed from
 * `submittedAt`, not from when a reconcile happened to run, so wake-ups asked for by different reconciles of the
 * same run fall on the same instant and the work queue's deduplication keeps one (core/services/wake-ups.ts).
 */
export const FOLLOW_UP = { firstSeconds: 1, doublingUntilSeconds: 8, everySeconds: 8 } as const;

/** The first follow-up instant after `now` for a task submitted at `submittedAt` (epoch ms). */
export function nextFollowUp(submittedAt: number, now: number): number {
  const elapsed = (now - submittedAt) / 1000;
  const { firstSeconds, doublingUntilSeconds, everySeconds } = FOLLOW_UP;
  let offset: number;
  if (elapsed < firstSeconds) offset = firstSeconds;
  else if (elapsed < doublingUntilSeconds) offset = firstSeconds * 2 ** (Math.floor(Math.log2(elapsed)) + 1);
  else
    offset =
      doublingUntilSeconds + everySeconds * (Math.floor((elapsed - doublingUntilSeconds) / everySeconds) + 1);
  return submittedAt + offset * 1000;
}

/**
 * Whether the relay watches the task's current attempt: it reported the attempt's pod running (the relay's
 * `task.started`), so it reports the Job's end the moment it happens, and follow-ups would only repeat it. Known
 * from the run, not from a setting: nothing to configure, and an attempt the relay has not reported (none
 * deployed, a relay that is down, a pod not yet running) keeps the follow-ups. Should the relay die after, the
 * reconciler's tick (every 60 s as deployed) still observes every active run: the sparse look the attempt keeps.
 */
export function relayWatches(task: TaskState): boolean {
  return task.relayedAttempt === task.attempt;
}

/**
 * When the run's submitted, unfinished tasks should next be looked at; undefined when none is out there, or the
 * relay watches every one that is (then the reconciler's tick is their only look besides the relay's reports).
 */
export function nextObservationAt(run: Run, now: string): string | undefined {
  const at = Date.parse(now);
  let next: number | undefined;
  for (const task of run.stages.flatMap((s) => s.tasks)) {
    if (!needsLooks(task)) continue;
    const slot = nextFollowUp(Date.parse(task.submittedAt as string), at);
    next = next === undefined ? slot : Math.min(next, slot);
  }
  return next === undefined ? undefined : new Date(next).toISOString();
}

/** A task followed up: submitted, not yet ended, and not watched by the relay. */
function needsLooks(task: TaskState): boolean {
  return isActiveTask(task.status) && !!task.submittedAt && !relayWatches(task);
}

/**
 * The moments after `now` at which the run has something due without any report: the earliest retry waiting for
 * its backoff, and the run's own timeout. Asked for as wake-ups so they act then, not at the reconciler's tick.
 */
export function dueMoments(
  run: Run,
  now: string,
): Array<{ at: string; reason: "retryBackoff" | "runTimeout" }> {
  if (isTerminalRun(run.status) || !run.startedAt) return [];
  const due: Array<{ at: string; reason: "retryBackoff" | "runTimeout" }> = [];
  const retries = run.stages
    .flatMap((s) => s.tasks)
    .flatMap((t) => (t.retryAt && backoffWaits(t, now) ? [t.retryAt] : []));
  if (retries.length > 0) due.push({ at: retries.sort()[0] as string, reason: "retryBackoff" });
  const deadline = runDeadline(run);
  if (deadline && deadline > now) due.push({ at: deadline, reason: "runTimeout" });
  return due;
}

/**
 * Whether a wake-up for the run at `at` (its instant, or later) finds anything to do, so that one which finds
 * nothing is not turned into a reconcile (3 FIFO requests, a scheduler invocation, a run read and the runner's
 * reads): a task followed up (`nextObservationAt`'s rule, whatever the instant), a task's or an approval's
 * deadline passed, a retry whose backoff ended, or the run's timeout passed, each decided by the rule the
 * reconcile itself applies. Nothing else a reconcile does depends on time: every other change comes with its own
 * message (a report, a command, a slot given back), and the reconciler's tick still looks at every active run.
 * Whatever the wake-up's reason: a wake-up only means "reconcile this run".
 */
export function wakeUpDue(run: Run, at: string): boolean {
  if (isTerminalRun(run.status) || !run.startedAt) return false;
  const tasks = run.stages.flatMap((s) => s.tasks);
  if (tasks.some((t) => needsLooks(t) || deadlinePassed(t, at))) return true;
  if (tasks.some((t) => t.status === "pending" && t.retryAt && !backoffWaits(t, at))) return true;
  const deadline = runDeadline(run);
  return deadline !== undefined && Date.parse(deadline) <= Date.parse(at);
}
