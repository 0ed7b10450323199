import type { V1Secret } from "@kubernetes/client-node";
import type { TaskLaunch } from "../../model/index.js";
import { hookflowAnnotations, hookflowLabels } from "./labels.js";

/** One Secret per task attempt, named after its Job, so that a redelivered submit finds the same one. */
export function secretNameFor(jobName: string): string {
  return `${jobName}-env`;
}

export interface JobOwner {
  name: string;
  uid: string;
}

/**
 * The Secret holding a task attempt's sensitive env (its callback token among them), owned by its Job so that
 * Kubernetes deletes it with the Job. Immutable: nothing should change a running task's credentials.
 */
export function buildTaskSecret(launch: TaskLaunch, namespace: string, owner: JobOwner): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    immutable: true,
    metadata: {
      name: secretNameFor(launch.jobName),
      namespace,
      labels: hookflowLabels(launch),
      annotations: hookflowAnnotations(launch),
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: owner.name, uid: owner.uid }],
    },
    stringData: { ...launch.secretEnv },
  };
}
