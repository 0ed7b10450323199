import type { V1Pod } from "@kubernetes/client-node";
import { type CallPolicy, callKubernetes, KubernetesRejection } from "./api-call.js";
import type { KubernetesApis, Wire } from "./apis.js";
import { listJobPods } from "./pods.js";

/**
 * What `stop` does to a Job. `deadlinePassed`: each live pod was given an active deadline that has passed, so the
 * kubelet kills its containers while the pod, and so its log, stays. `nothingStarted`: no live pod had started,
 * so there is no log to keep and the Job must be deleted (a pod that starts later would run). `ended`: nothing
 * runs any more.
 */
export type Stopped = "deadlinePassed" | "nothingStarted" | "ended";

/**
 * Stops a Job's containers without deleting its pod, so that its log can still be copied (during an archive
 * outage, for as long as it lasts). Deleting the Job, suspending it or lowering its parallelism would delete the
 * pod with the log; lowering the Job's own activeDeadlineSeconds makes the Job controller delete its running pods
 * too. A pod's `spec.activeDeadlineSeconds` is the one field of a running pod that may be set or lowered (never
 * raised or removed), down to 0; the kubelet then fails the pod (DeadlineExceeded) and kills its containers, and
 * the pod object and its logs stay like those of any pod that ended. With backoffLimit 0 (every hookflow Job) and
 * no DisruptionTarget condition on such a pod, the Job controller counts the failure and fails the Job: no
 * replacement pod. A pod the kubelet has not started yet (no `status.startTime`) would start before its deadline
 * counts, so then nothing has run and the caller deletes the Job instead.
 */
export async function stopJob(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
): Promise<Stopped> {
  const pods = await listJobPods(apis, namespace, jobName, policy);
  const live = pods.filter(isLive);
  if (live.length === 0 && pods.length > 0) return "ended";
  if (live.every((pod) => !pod.status?.startTime)) return "nothingStarted";
  for (const pod of live) {
    const name = pod.metadata?.name;
    if (!name || pod.spec?.activeDeadlineSeconds === 0) continue;
    try {
      await callKubernetes(
        `stop pod "${name}" of Job "${jobName}" (set its activeDeadlineSeconds to 0)`,
        () => apis.patchPod(namespace, name, [{ op: "add", path: "/spec/activeDeadlineSeconds", value: 0 }]),
        policy,
      );
    } catch (error) {
      // Gone meanwhile (its Job deleted): nothing left to stop.
      if (!(error instanceof KubernetesRejection && error.code === 404)) throw error;
    }
  }
  return "deadlinePassed";
}

function isLive(pod: Wire<V1Pod>): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" && !pod.metadata?.deletionTimestamp;
}
