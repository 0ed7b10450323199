import type { V1Pod } from "@kubernetes/client-node";
import { type CallPolicy, callKubernetes } from "./api-call.js";
import type { KubernetesApis } from "./client.js";
import { JOB_NAME_LABEL } from "./labels.js";

/**
 * The newest pod of a Job, or undefined before the Job controller created one (or after the deadline
 * controller or the TTL removed it). With backoffLimit 0 there is normally one.
 */
export async function findJobPod(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
): Promise<V1Pod | undefined> {
  return newest(await listJobPods(apis, namespace, jobName, policy));
}

/** Every pod of a Job, by its job-name label: ended ones too, until the Job is deleted. */
export async function listJobPods(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
): Promise<V1Pod[]> {
  const list = await callKubernetes(
    `list the pods of Job "${jobName}"`,
    () => apis.core.listNamespacedPod({ namespace, labelSelector: `${JOB_NAME_LABEL}=${jobName}` }),
    policy,
  );
  return list.items;
}

function newest(pods: V1Pod[]): V1Pod | undefined {
  const time = (pod: V1Pod) => new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
  return pods.reduce<V1Pod | undefined>(
    (best, pod) => (!best || time(pod) > time(best) ? pod : best),
    undefined,
  );
}
