import { createHash } from "node:crypto";

const DNS_LABEL_MAX = 63;

function slug(text: string, max: number): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return cleaned.slice(0, max).replace(/-+$/, "") || "task";
}

/**
 * The Kubernetes Job name of one attempt of one task: deterministic, so a retried submission targets the same
 * object (409 = already submitted); distinct across runs, tasks and attempts through a hash of run and task;
 * a DNS-1123 label of at most 63 characters, readable by the task name it starts with.
 */
export function jobNameFor(runId: string, task: string, attempt: number): string {
  const hash = createHash("sha256").update(`${runId}/${task}`).digest("hex").slice(0, 10);
  const suffix = `-${hash}-${attempt}`;
  return `hf-${slug(task, DNS_LABEL_MAX - 3 - suffix.length)}${suffix}`;
}

/** The `{taskId}` of `POST /callbacks/tasks/{taskId}`: run, task and attempt, so a token is bound to all three. */
export function callbackTaskId(runId: string, task: string, attempt: number): string {
  return `${runId}.${task}.${attempt}`;
}

export function parseCallbackTaskId(
  taskId: string,
): { runId: string; task: string; attempt: number } | undefined {
  const match = /^([a-z0-9]{1,64})\.([a-z0-9][a-z0-9-]{0,62})\.([1-9][0-9]{0,3})$/.exec(taskId);
  if (!match) return undefined;
  return { runId: match[1] as string, task: match[2] as string, attempt: Number(match[3]) };
}

/**
 * The id of the run a webhook delivery starts for a pipeline: derived, so that a redelivery addresses the same
 * run and one conditional write both creates it and detects the repeat.
 */
export function deliveryRunId(provider: string, deliveryId: string, pipeline: string): string {
  return createHash("sha256").update(`${provider}\n${deliveryId}\n${pipeline}`).digest("hex").slice(0, 24);
}

/** A schedule's identity within its pipeline: what it runs and when, so editing one does not re-key the others. */
export function scheduleKey(schedule: { cron: string; branch: string; timezone?: string }): string {
  return createHash("sha256")
    .update(`${schedule.cron}\n${schedule.branch}\n${schedule.timezone ?? "UTC"}`)
    .digest("hex")
    .slice(0, 12);
}

/** The run a schedule owes for one minute: derived, so that a repeated tick addresses the same run. */
export function scheduleRunId(pipeline: string, schedule: string, minute: string): string {
  return createHash("sha256")
    .update(`schedule\n${pipeline}\n${schedule}\n${minute}`)
    .digest("hex")
    .slice(0, 24);
}
