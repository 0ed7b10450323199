import { runView } from "../engine/index.js";
import type { NotifyEvent, Run } from "../model/index.js";
import type { RunNotice } from "../ports.js";

/** The run's page without a grant (the console serves it; the API has the JSON). */
export function runLink(publicUrl: string, runId: string): string {
  return `${publicUrl}/runs/${runId}`;
}

/** What a notification about `event` shows, built from the masked view of the run; `url` is its page's link. */
export function buildNotice(
  run: Run,
  event: NotifyEvent,
  taskName: string | undefined,
  url: string,
): RunNotice {
  const view = runView(run);
  const tasks = view.stages.flatMap((s) => s.tasks);
  const failed = tasks.find((t) => t.status === "failed");
  const task = taskName === undefined ? undefined : tasks.find((t) => t.name === taskName);
  const { provider, repository, ref, branch, tag, commit, message, author } = view.trigger;
  const end = view.finishedAt ?? view.updatedAt;
  return {
    event,
    pipeline: view.pipeline,
    runId: view.id,
    status: view.status,
    trigger: { provider, repository, ref, branch, tag, commit, message, author },
    ...(view.startedAt && {
      durationSeconds: Math.max(0, Math.round((Date.parse(end) - Date.parse(view.startedAt)) / 1000)),
    }),
    ...(failed && { failedTask: { name: failed.name, message: failed.message } }),
    ...(task && {
      task: { name: task.name, status: task.status, message: task.message, approvers: task.approvers },
    }),
    url,
  };
}
