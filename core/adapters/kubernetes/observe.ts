import type { V1ContainerStatus, V1Job, V1Pod } from "@kubernetes/client-node";
import type { JobObservation, JobState } from "../../ports.js";
import { type CallPolicy, callKubernetes, KubernetesRejection } from "./api-call.js";
import type { KubernetesApis } from "./client.js";
import { findJobPod } from "./pods.js";

/**
 * What became of one task attempt's Job. A Job that is not there is "missing", never a success; the pod is
 * read only once the Job has finished, for its termination message (outputs) and what ended it.
 */
export async function observeJob(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
): Promise<JobObservation> {
  let job: V1Job;
  try {
    job = await callKubernetes(
      `read Job "${jobName}"`,
      () => apis.batch.readNamespacedJob({ name: jobName, namespace }),
      policy,
    );
  } catch (error) {
    if (error instanceof KubernetesRejection && error.code === 404) return { state: "missing" };
    throw error;
  }
  const state = jobState(job);
  if (state !== "succeeded" && state !== "failed") return { state };
  return observationOf(job, await findJobPod(apis, namespace, jobName, policy));
}

/**
 * A Job's state from its status:
 * - a Complete or SuccessCriteriaMet condition: succeeded;
 * - a Failed condition: failed (FailureTarget alone is not final: the pod may still be terminating);
 * - a ready pod, or an active one where the API does not count ready pods: running;
 * - otherwise pending: created, scheduling, pulling its image, waiting for its Secret.
 */
export function jobState(job: V1Job): JobState {
  if (hasCondition(job, "Complete") || hasCondition(job, "SuccessCriteriaMet")) return "succeeded";
  if (hasCondition(job, "Failed")) return "failed";
  const { active = 0, ready } = job.status ?? {};
  if (ready === undefined ? active > 0 : ready > 0) return "running";
  return "pending";
}

/** The observation of a Job, with its pod's account of how it ended when the pod is still there. */
export function observationOf(job: V1Job, pod: V1Pod | undefined): JobObservation {
  const state = jobState(job);
  const taskContainer = job.spec?.template.spec?.containers[0]?.name;
  const terminationMessage = terminationMessageOf(pod, taskContainer);
  const observation: JobObservation = {
    state,
    ...(terminationMessage !== undefined && { terminationMessage }),
  };
  if (state === "failed") observation.message = failureMessage(job, pod, taskContainer);
  return observation;
}

function hasCondition(job: V1Job, type: string) {
  return (job.status?.conditions ?? []).some((c) => c.type === type && c.status === "True");
}

function failureMessage(job: V1Job, pod: V1Pod | undefined, taskContainer: string | undefined): string {
  const failed = (job.status?.conditions ?? []).find((c) => c.type === "Failed" && c.status === "True");
  switch (failed?.reason) {
    case "DeadlineExceeded": {
      const seconds = job.spec?.activeDeadlineSeconds;
      const waiting = waitingContainer(pod);
      return [
        seconds === undefined
          ? "the Job exceeded its deadline"
          : `the Job exceeded its deadline of ${seconds} seconds`,
        waiting &&
          `container "${waiting.name}" was still waiting: ${waiting.state?.waiting?.reason ?? "unknown"}`,
      ]
        .filter(Boolean)
        .join("; ");
    }
    case "BackoffLimitExceeded": {
      const container = failedContainer(pod, taskContainer);
      const terminated = container?.state?.terminated;
      if (!container || !terminated)
        return "the task's container failed (its pod is gone, so the exit code is unknown)";
      return `container "${container.name}" failed with exit code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}`;
    }
    default:
      return `the Job failed: ${failed?.reason ?? "unknown reason"}${failed?.message ? `: ${failed.message}` : ""}`;
  }
}

function statusesOf(pod: V1Pod | undefined): V1ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

/** The container whose exit failed the pod: the task's own when it failed, else the first that did. */
function failedContainer(pod: V1Pod | undefined, taskContainer: string | undefined) {
  const failed = statusesOf(pod).filter((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
  return failed.find((s) => s.name === taskContainer) ?? failed[0];
}

function waitingContainer(pod: V1Pod | undefined) {
  return statusesOf(pod).find((s) => s.state?.waiting?.reason);
}

function terminationMessageOf(pod: V1Pod | undefined, taskContainer: string | undefined): string | undefined {
  const status = pod?.status?.containerStatuses?.find((s) => s.name === taskContainer);
  const message = status?.state?.terminated?.message ?? status?.lastState?.terminated?.message;
  return message === undefined || message === "" ? undefined : message;
}
