import type { V1Pod } from "@kubernetes/client-node";
import { type CallPolicy, callKubernetes } from "./api-call.js";
import type { KubernetesApis, Wire } from "./apis.js";
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
): Promise<Wire<V1Pod> | undefined> {
  return newest(await listJobPods(apis, namespace, jobName, policy));
}

/** Every pod of a Job, by its job-name label: ended ones too, until the Job is deleted. */
export async function listJobPods(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
): Promise<Wire<V1Pod>[]> {
  return callKubernetes(
    `list the pods of Job "${jobName}"`,
    () => apis.listPods(namespace, `${JOB_NAME_LABEL}=${jobName}`),
    policy,
  );
}

function newest(pods: Wire<V1Pod>[]): Wire<V1Pod> | undefined {
  const time = (pod: Wire<V1Pod>) => new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
  return pods.reduce<Wire<V1Pod> | undefined>(
    (best, pod) => (!best || time(pod) > time(best) ? pod : best),
    undefined,
  );
}
