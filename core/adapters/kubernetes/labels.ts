import type { TaskLaunch } from "../../model/index.js";

/** Label and annotation keys hookflow puts on every Job and pod it creates, so they can be found by run. */
export const HOOKFLOW_KEYS = {
  run: "hookflow.dev/run",
  pipeline: "hookflow.dev/pipeline",
  task: "hookflow.dev/task",
  attempt: "hookflow.dev/attempt",
  template: "hookflow.dev/template",
} as const;

export const MANAGED_BY = { key: "app.kubernetes.io/managed-by", value: "hookflow" } as const;

/** The label the Job controller puts on a Job's pods (Kubernetes 1.27+; `job-name` before). */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

const LABEL_VALUE_MAX = 63;

/**
 * A valid label value (at most 63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric) made
 * from any text. Labels are for selecting; the exact value is kept in the annotation of the same key.
 */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .slice(0, LABEL_VALUE_MAX)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

export function hookflowLabels(launch: TaskLaunch): Record<string, string> {
  return {
    [MANAGED_BY.key]: MANAGED_BY.value,
    [HOOKFLOW_KEYS.run]: labelValue(launch.runId),
    [HOOKFLOW_KEYS.pipeline]: labelValue(launch.pipeline),
    [HOOKFLOW_KEYS.task]: labelValue(launch.task),
    [HOOKFLOW_KEYS.attempt]: String(launch.attempt),
  };
}

export function hookflowAnnotations(launch: TaskLaunch): Record<string, string> {
  return {
    [HOOKFLOW_KEYS.run]: launch.runId,
    [HOOKFLOW_KEYS.pipeline]: launch.pipeline,
    [HOOKFLOW_KEYS.task]: launch.task,
    [HOOKFLOW_KEYS.attempt]: String(launch.attempt),
    ...(launch.source.kind === "job" && { [HOOKFLOW_KEYS.template]: launch.source.template }),
  };
}
