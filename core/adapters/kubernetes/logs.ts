import { type CallPolicy, callKubernetes, KubernetesRejection } from "./api-call.js";
import type { KubernetesApis } from "./client.js";
import { findJobPod, taskContainerOf } from "./pods.js";

/**
 * The task container's log, its last `tail` lines when given. Empty while there is nothing to read: no pod
 * yet, a container still waiting to start (the API answers 400), or a pod already removed.
 */
export async function readTaskLog(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
  tail?: number,
): Promise<string> {
  const pod = await findJobPod(apis, namespace, jobName, policy);
  const podName = pod?.metadata?.name;
  if (!pod || !podName) return "";
  const container = taskContainerOf(pod);
  try {
    return await callKubernetes(
      `read the log of pod "${podName}"`,
      () =>
        apis.core.readNamespacedPodLog({
          name: podName,
          namespace,
          ...(container !== undefined && { container }),
          ...(tail !== undefined && { tailLines: tail }),
        }),
      policy,
    );
  } catch (error) {
    if (error instanceof KubernetesRejection && (error.code === 400 || error.code === 404)) return "";
    throw error;
  }
}
