import {
  clipText,
  type Effect,
  type IgnoredReason,
  isActiveTask,
  isTerminalRun,
  isTerminalTask,
  isUntrustedRun,
  LIMITS,
  type OutputsInput,
  type Run,
  type RunEvent,
  runStagesOf,
  type SubmitEffect,
  type TaskState,
  upstreamOf,
} from "../model/index.js";
import {
  cancelJob,
  type Draft,
  failAttempt,
  findTaskState,
  finishTask,
  keepAttempt,
  leaveRoomWait,
  recordArchivedLog,
  recordDeliveryFailure,
  taskDef,
} from "./lifecycle.js";
import { declaredNames, outputBytes, outputsProblem, parseOutputs, screenOutputs } from "./outputs.js";
import { admit, finishRun, settle, timeOut } from "./plan.js";
import { renderTask } from "./render.js";

export interface Ignored {
  reason: IgnoredReason;
  message: string;
}

export interface Transition {
  /** The next run; the very same object as the input when nothing changed. */
  run: Run;
  /** What the caller must carry out after saving `run`: effects this transition owes (all owed ones on reconcile). */
  effects: Effect[];
  /** Set when the event did not apply; edges turn the reason into an answer (409, 403, 404). */
  ignored?: Ignored;
}

/** The engine: fold one fact into a run and say what must happen next. Pure: time comes in as `now`. */
export function transition(run: Run, event: RunEvent, now: string): Transition {
  const d: Draft = { run: structuredClone(run), now, submits: [] };
  const ignored = apply(d, event);
  if (ignored) return { run, effects: [], ignored };
  settle(d);
  const changed = JSON.stringify(d.run) !== JSON.stringify(run);
  if (event.type === "reconcile") {
    const next = changed ? { ...d.run, updatedAt: now } : run;
    return { run: next, effects: owedEffects(next) };
  }
  if (!changed) return { run, effects: [], ignored: { reason: "Duplicate", message: "already applied" } };
  d.run.updatedAt = now;
  const before = new Set(run.outbox.map((e) => e.key));
  return { run: d.run, effects: [...d.submits, ...d.run.outbox.filter((e) => !before.has(e.key))] };
}

/**
 * Everything the run still owes: its outbox, and a submission for every queued task not yet confirmed
 * submitted (a crash between saving and submitting leaves one; its deterministic Job name makes a repeat safe).
 */
export function owedEffects(run: Run): Effect[] {
  const submits: SubmitEffect[] = [];
  for (const task of run.stages.flatMap((s) => s.tasks)) {
    if (task.status !== "queued" || task.submittedAt || !task.jobName) continue;
    const rendered = renderTask(run, task.name, task.attempt, task.jobName);
    if (rendered.ok)
      submits.push({
        type: "submitTask",
        key: `submit:${task.jobName}`,
        runId: run.id,
        launch: rendered.launch,
      });
  }
  return [...submits, ...run.outbox];
}

function apply(d: Draft, event: RunEvent): Ignored | undefined {
  const run = d.run;
  switch (event.type) {
    case "run.created":
      if (isTerminalRun(run.status)) return ignore("RunTerminal", `run is ${run.status}`);
      if (run.startedAt) return ignore("Duplicate", "run already started");
      admit(d, event.groupAhead ?? []);
      return undefined;
    case "reconcile":
      if (event.groupAhead) admit(d, event.groupAhead);
      return undefined;
    case "cancel.requested":
      return event.task === undefined
        ? cancel(d, event.by, event.byRun)
        : cancelTask(d, event.task, event.by);
    case "rerun.requested":
      return rerun(d, event, event.groupAhead ?? []);
    case "approval.granted":
    case "approval.denied":
      return decide(d, event);
    case "log.archived": {
      const owed = run.outbox.some((e) => e.key === event.key);
      const task = findTaskState(run, event.task);
      if (!owed || !task) return ignore("Duplicate", "already recorded");
      run.outbox = run.outbox.filter((e) => e.key !== event.key);
      recordArchivedLog(task, {
        attempt: event.attempt,
        containers: event.containers,
        ...(event.gone && { gone: true }),
      });
      return undefined;
    }
    case "run.trusted":
      return trust(d, event.by);
    case "outbox.delivered": {
      const keys = new Set(run.outbox.map((e) => e.key));
      const results = event.results.filter((r) => keys.has(r.key));
      if (results.length === 0) return ignore("Duplicate", "already delivered");
      const done = new Set(results.map((r) => r.key));
      run.outbox = run.outbox.filter((e) => !done.has(e.key));
      for (const r of results) if (r.error) recordDeliveryFailure(d, r.key, r.target ?? "", r.error);
      return undefined;
    }
    default:
      return applyTaskEvent(d, event);
  }
}

type TaskEvent = Extract<RunEvent, { task: string; attempt: number }>;

/**
 * A fork's pull request run trusted by someone allowed to approve: attempts queued from now on get sensitive
 * values, and its tasks that need approval may be approved. What already ran stays as it ran (rerun it).
 */
function trust(d: Draft, by: string): Ignored | undefined {
  const run = d.run;
  if (isTerminalRun(run.status)) return ignore("RunTerminal", `run is ${run.status}`);
  if (!run.trigger.pullRequest?.fork)
    return ignore("NothingToTrust", "only a pull request from a fork is untrusted");
  if (run.trustedBy) return ignore("NothingToTrust", `already trusted by ${run.trustedBy.by}`);
  run.trustedBy = { by, at: d.now };
  for (const task of run.stages.flatMap((s) => s.tasks))
    if (task.status === "waiting" && task.reason === "HeldUntrusted") {
      const approvers = taskDef(run, task.name).approval?.approvers ?? [];
      task.reason = "AwaitingApproval";
      task.message = `waiting for approval by ${approvers.join(" or ")}`;
    }
  return undefined;
}

function applyTaskEvent(d: Draft, event: TaskEvent): Ignored | undefined {
  const task = findTaskState(d.run, event.task);
  if (!task) return ignore("UnknownTask", `no task "${event.task}" in this run`);
  if (event.attempt !== task.attempt)
    return ignore(
      "StaleAttempt",
      `attempt ${event.attempt} of ${task.name} is not its current attempt (${task.attempt})`,
    );
  if (event.type === "task.succeeded" && ranThroughCancel(task)) {
    // The cancel came too late to stop this attempt: it ran to success, so that is what is recorded.
    if (event.outputs !== undefined && !recordOutputs(d, task, event.outputs)) return undefined;
    finishTask(d, task, "succeeded", "Succeeded", withRefusals(task, event.message));
    return undefined;
  }
  if (isTerminalTask(task.status))
    return repeatsEnd(d.run, task, event)
      ? ignore("Duplicate", `task ${task.name} already ${task.status} with this report`)
      : ignore("TaskTerminal", `task ${task.name} is already ${task.status}`);
  if (!isActiveTask(task.status)) return ignore("StaleAttempt", `task ${task.name} is ${task.status}`);

  switch (event.type) {
    case "task.submitted":
      if (task.submittedAt) return ignore("Duplicate", "already submitted");
      leaveRoomWait(d, task);
      task.submittedAt = d.now;
      return undefined;
    case "task.waitingForRoom": {
      if (task.submittedAt) return ignore("Duplicate", "already submitted");
      const message = `waiting for room: the pipeline's ${event.limit} running tasks (maxRunningTasks) are all taken`;
      if (task.reason === "WaitingForRoom" && task.message === message)
        return ignore("Duplicate", "already waiting for room");
      task.reason = "WaitingForRoom";
      task.message = message;
      return undefined;
    }
    case "task.started": {
      // The relay's report that the attempt runs is news even when the run knew it (from a look or the task's
      // own callback): from now on the relay reports its end.
      const watched = event.relay === true && task.relayedAttempt !== task.attempt;
      if (task.status === "running" && !watched) return ignore("Duplicate", "already running");
      if (watched) task.relayedAttempt = task.attempt;
      if (task.status !== "running") markRunning(d, task);
      return undefined;
    }
    case "task.outputs": {
      if (!recordOutputs(d, task, event.outputs)) return undefined;
      if (task.status === "queued") markRunning(d, task);
      return undefined;
    }
    case "task.succeeded":
      if (event.outputs !== undefined && !recordOutputs(d, task, event.outputs)) return undefined;
      finishTask(d, task, "succeeded", "Succeeded", withRefusals(task, event.message));
      return undefined;
    case "task.failed":
      failAttempt(d, task, event.reason ?? "Failed", event.message);
      return undefined;
    case "task.lost":
      failAttempt(d, task, "Lost", `its Job ${task.jobName} disappeared before reporting an end`);
      return undefined;
    case "task.timedOut":
      timeOut(d, task);
      return undefined;
    case "task.submitFailed": {
      if (task.submittedAt) return ignore("Duplicate", "already submitted");
      // Its slot was taken before the runner was asked: it no longer waits for room, and its timeout runs.
      leaveRoomWait(d, task);
      const message = `submission failing, retrying: ${event.message}`;
      if (task.message === message) return ignore("Duplicate", "already recorded");
      task.message = message;
      return undefined;
    }
  }
}

/**
 * A task canceled while its attempt was queued or running (it has a Job name: tasks canceled before they were
 * queued have none). Its process may still finish before the cancel reaches it; only a success overrides the
 * cancel, since a failure after a cancel is most likely the cancel's doing.
 */
function ranThroughCancel(task: TaskState): boolean {
  return task.status === "canceled" && task.reason === "Canceled" && task.jobName !== undefined;
}

/**
 * Whether a report about an ended task says again exactly how it ended (a callback retried after its answer was
 * lost): the same status and reason, the same message, outputs it already has. Any other report conflicts.
 */
function repeatsEnd(run: Run, task: TaskState, event: TaskEvent): boolean {
  if (event.type === "task.succeeded") {
    // Compared as they were recorded: outputs screened, the message with the refusals it was given.
    const { kept } = screenOutputs(parseOutputs(event.outputs ?? {}), declaredNames(run));
    const message = withRefusals(task, event.message);
    return (
      task.status === "succeeded" &&
      task.reason === "Succeeded" &&
      (message === undefined ? undefined : clipText(message, LIMITS.messageBytes)) === task.message &&
      Object.entries(kept).every(([name, value]) => task.outputs[name] === value)
    );
  }
  if (event.type === "task.failed")
    return (
      task.status === "failed" &&
      task.reason === (event.reason ?? "Failed") &&
      clipText(event.message, LIMITS.messageBytes) === task.message
    );
  return false;
}

function markRunning(d: Draft, task: TaskState): void {
  leaveRoomWait(d, task);
  task.status = "running";
  task.reason = "Running";
  task.startedAt ??= d.now;
  task.submittedAt ??= d.now;
}

/**
 * Merges reported outputs; over a limit, the task fails with a message saying so (never a silent cut). An output
 * under a name the run declares or a process-control name is refused, and the task's message names it.
 */
function recordOutputs(d: Draft, task: TaskState, input: OutputsInput): boolean {
  const { kept, refused } = screenOutputs(parseOutputs(input), declaredNames(d.run));
  if (refused.length > 0) {
    task.refusedOutputs = [...new Set([...(task.refusedOutputs ?? []), ...refused])];
    task.message = withRefusals(task, undefined);
  }
  const merged = { ...task.outputs, ...kept };
  const others = d.run.stages.flatMap((s) => s.tasks).filter((t) => t !== task);
  const runBytes = others.reduce((sum, t) => sum + outputBytes(t.outputs), outputBytes(merged));
  const problem = outputsProblem(merged, runBytes);
  if (problem) {
    cancelJob(d, task);
    finishTask(d, task, "failed", "OutputsTooLarge", problem);
    return false;
  }
  task.outputs = merged;
  return true;
}

/** A task's message with the outputs it was refused, so that whoever reads the run sees why they are missing. */
function withRefusals(task: TaskState, message: string | undefined): string | undefined {
  if (!task.refusedOutputs?.length) return message;
  const refusals = `outputs refused: ${task.refusedOutputs.join("; ")}`;
  return message ? `${message} (${refusals})` : refusals;
}

function decide(
  d: Draft,
  event: Extract<RunEvent, { type: "approval.granted" | "approval.denied" }>,
): Ignored | undefined {
  const task = findTaskState(d.run, event.task);
  if (!task) return ignore("UnknownTask", `no task "${event.task}" in this run`);
  const gate = taskDef(d.run, task.name).approval;
  if (task.status !== "waiting" || !gate)
    return ignore("NotWaitingForApproval", `task ${task.name} is ${task.status}, not waiting for approval`);
  const identities = [event.by, ...(event.email ? [event.email] : [])];
  if (!matchesAny(identities, gate.approvers))
    return ignore(
      "NotAnApprover",
      `${event.by} may not approve ${task.name}; approvers: ${gate.approvers.join(", ")}`,
    );
  const trigger = d.run.trigger;
  const pushers = [trigger.author, ...(trigger.pushedBy ?? [])].filter((p) => p !== "");
  if (!gate.allowSelfApproval && matchesAny(identities, pushers))
    return ignore(
      "SelfApproval",
      `${event.by} pushed this change (or started this run) and ${task.name} refuses self-approval; ask another approver`,
    );
  // Denying is always safe; approving a fork's task waits until its run is trusted (POST /api/runs/{id}/trust).
  if (event.type === "approval.granted" && isUntrustedRun(d.run))
    return ignore(
      "UntrustedRun",
      `run ${d.run.id} is a pull request from a fork: trust it (POST /api/runs/${d.run.id}/trust) before approving ${task.name}`,
    );
  const approval = {
    by: event.by,
    ...(event.email && { email: event.email }),
    at: d.now,
    ...(event.comment && { comment: event.comment }),
  };
  task.deadline = undefined;
  if (event.type === "approval.granted") {
    task.approval = { decision: "approved", ...approval };
    task.status = "pending";
    task.reason = "Approved";
    task.message = `approved by ${event.by}`;
    return undefined;
  }
  task.approval = { decision: "denied", ...approval };
  finishTask(
    d,
    task,
    "failed",
    "Denied",
    `denied by ${event.by}${event.comment ? `: ${event.comment}` : ""}`,
  );
  return undefined;
}

/** Usernames and emails compare without case (providers differ in how they spell them). */
function matchesAny(identities: readonly string[], listed: readonly string[]): boolean {
  const wanted = new Set(listed.map((l) => l.toLowerCase()));
  return identities.some((i) => wanted.has(i.toLowerCase()));
}

function cancel(d: Draft, by: string | undefined, byRun: string | undefined): Ignored | undefined {
  const run = d.run;
  if (isTerminalRun(run.status)) return ignore("RunTerminal", `run is already ${run.status}`);
  const message = byRun ? `canceled by newer run ${byRun}` : `canceled${by ? ` by ${by}` : ""}`;
  for (const task of run.stages.flatMap((s) => s.tasks)) {
    if (isTerminalTask(task.status)) continue;
    if (isActiveTask(task.status)) cancelJob(d, task);
    finishTask(d, task, "canceled", "Canceled", message);
  }
  finishRun(d, "canceled", byRun ? "CanceledByNewerRun" : "Canceled", message);
  return undefined;
}

/** Cancel one task of an active run: its Job is canceled and it ends canceled, a failure `ignoreFailed` absorbs. */
function cancelTask(d: Draft, name: string, by: string | undefined): Ignored | undefined {
  const run = d.run;
  const task = findTaskState(run, name);
  if (!task) return ignore("UnknownTask", `no task "${name}" in this run`);
  if (isTerminalRun(run.status)) return ignore("RunTerminal", `run is already ${run.status}`);
  if (isTerminalTask(task.status))
    return ignore("TaskTerminal", `task ${task.name} is already ${task.status}`);
  if (isActiveTask(task.status)) cancelJob(d, task);
  finishTask(d, task, "canceled", "Canceled", `canceled${by ? ` by ${by}` : ""}`);
  return undefined;
}

type RerunRequest = Extract<RunEvent, { type: "rerun.requested" }>;

/**
 * Re-run a finished run in place, as a new round; what ran before stays readable in each task's history.
 * - all: every task again;
 * - failed-only: from the first stage with a failed or canceled task, its failed, canceled and skipped tasks and
 *   every task of later stages; tasks that succeeded before it keep their outputs;
 * - one task: that task alone, or with `downstream` also what runs after it (what needs it, directly or not; the
 *   later tasks of its serial stage; every task of later stages).
 * The finally tasks run again in every round.
 */
function rerun(d: Draft, request: RerunRequest, groupAhead: readonly string[]): Ignored | undefined {
  const run = d.run;
  if (request.task !== undefined && !findTaskState(run, request.task))
    return ignore("UnknownTask", `no task "${request.task}" in this run`);
  if (!isTerminalRun(run.status))
    return ignore("RunActive", `run is ${run.status}; only a finished run can be re-run`);
  const again = rerunSet(run, request);
  if (!again) return ignore("NothingToRerun", "no task failed or was canceled");
  for (const stage of run.stages)
    for (const task of stage.tasks) if (stage.finally || again.has(task.name)) resetTask(d, task);
  run.round += 1;
  run.status = "pending";
  run.reason = "Created";
  run.message = undefined;
  run.startedAt = undefined;
  run.finishedAt = undefined;
  admit(d, groupAhead);
  return undefined;
}

/** The names of the tasks a rerun request runs again (finally tasks aside); undefined when there are none. */
function rerunSet(run: Run, request: RerunRequest): Set<string> | undefined {
  const main = run.stages.filter((s) => !s.finally);
  if (request.task !== undefined) {
    const name = request.task;
    const s = main.findIndex((stage) => stage.tasks.some((t) => t.name === name));
    if (s < 0) return new Set([name]);
    if (!request.downstream) return new Set([name]);
    const stage = main[s] as (typeof main)[number];
    const defs = runStagesOf(run.definition);
    const after = stage.parallel
      ? stage.tasks.filter((t) => upstreamOf(defs.slice(s, s + 1), t.name).has(name))
      : stage.tasks.slice(stage.tasks.findIndex((t) => t.name === name) + 1);
    return new Set([
      name,
      ...after.map((t) => t.name),
      ...main.slice(s + 1).flatMap((st) => st.tasks.map((t) => t.name)),
    ]);
  }
  if (!request.failedOnly) return new Set(main.flatMap((st) => st.tasks.map((t) => t.name)));
  const ended = (t: TaskState) => t.status === "failed" || t.status === "canceled";
  const from = main.findIndex((st) => st.tasks.some(ended));
  if (from < 0) return run.stages.some((st) => st.finally && st.tasks.some(ended)) ? new Set() : undefined;
  return new Set(
    main.flatMap((st, s) =>
      s < from
        ? []
        : st.tasks.filter((t) => s > from || ended(t) || t.status === "skipped").map((t) => t.name),
    ),
  );
}

/** Back to pending for a new round, keeping the attempt that ran in the task's history. */
function resetTask(d: Draft, task: TaskState): void {
  if (task.jobName) keepAttempt(d, task, { status: task.status, reason: task.reason, message: task.message });
  Object.assign(task, {
    status: "pending",
    reason: "Pending",
    message: undefined,
    roundStart: task.attempt,
    jobName: undefined,
    queuedAt: undefined,
    submittedAt: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    deadline: undefined,
    outputs: {},
    refusedOutputs: undefined,
    approval: undefined,
    retryAt: undefined,
  } satisfies Partial<TaskState>);
}

const ignore = (reason: IgnoredReason, message: string): Ignored => ({ reason, message });
