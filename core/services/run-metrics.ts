import { isTerminalRun, type Run, type TaskState } from "../model/index.js";
import type { MetricPoint } from "../ports.js";

/**
 * What one saved change of a run measures (`before` → `after`, as stored): a run started or finished, attempts
 * that ended, a first submission and a stage's first submission. Pure: every time comes from the run's own
 * timestamps, so a change re-applied after a version conflict measures the same, and an unchanged run nothing.
 */
export function runChangeMetrics(before: Run, after: Run): MetricPoint[] {
  const points: MetricPoint[] = [];
  if (!before.startedAt && after.startedAt) points.push({ name: "RunsStarted", unit: "Count", value: 1 });
  if (!isTerminalRun(before.status) && isTerminalRun(after.status))
    points.push({ name: "RunsFinished", unit: "Count", value: 1, dimensions: { Status: after.status } });

  const ended = new Set(before.stages.flatMap((s) => s.tasks.flatMap(endedAttempts)).map((a) => a.key));
  for (const attempt of after.stages.flatMap((s) => s.tasks.flatMap(endedAttempts)))
    if (!ended.has(attempt.key))
      points.push({
        name: "TaskDuration",
        unit: "Milliseconds",
        value: attempt.milliseconds,
        dimensions: { Status: attempt.status },
      });

  const firstSubmission = (run: Run) =>
    earliest(run.stages.flatMap((s) => s.tasks.map((t) => t.submittedAt)));
  const submitted = firstSubmission(after);
  if (submitted && !firstSubmission(before))
    points.push(latency("WebhookToSubmitLatency", after.createdAt, submitted));

  after.stages.forEach((stage, i) => {
    const previous = after.stages[i - 1];
    const wasSubmitted = earliest(before.stages[i]?.tasks.map((t) => t.submittedAt) ?? []);
    const nowSubmitted = earliest(stage.tasks.map((t) => t.submittedAt));
    if (!previous || wasSubmitted || !nowSubmitted) return;
    const previousEnded = latest(previous.tasks.map((t) => t.finishedAt));
    if (previousEnded) points.push(latency("StageAdvanceLatency", previousEnded, nowSubmitted));
  });
  return points.filter((p) => Number.isFinite(p.value) && p.value >= 0);
}

/** A task's attempts that ended after running (or at least being submitted), the current one and earlier ones. */
function endedAttempts(task: TaskState) {
  const attempts = [
    ...(task.history ?? []).map((h) => ({ ...h, submittedAt: undefined })),
    ...(task.finishedAt && task.attempt > 0 ? [{ ...task }] : []),
  ];
  return attempts.flatMap((a) => {
    const from = a.startedAt ?? a.submittedAt;
    if (!from || !a.finishedAt) return [];
    return [
      {
        key: `${task.name}#${a.attempt}#${a.finishedAt}`,
        status: a.status,
        milliseconds: Date.parse(a.finishedAt) - Date.parse(from),
      },
    ];
  });
}

function latency(name: MetricPoint["name"], from: string, to: string): MetricPoint {
  return { name, unit: "Milliseconds", value: Date.parse(to) - Date.parse(from) };
}

const defined = (times: Array<string | undefined>) => times.filter((t): t is string => t !== undefined);
const earliest = (times: Array<string | undefined>) => defined(times).sort()[0];
const latest = (times: Array<string | undefined>) => defined(times).sort().at(-1);
