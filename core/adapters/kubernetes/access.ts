import type { ClusterAccess, KubernetesRight } from "../../ports.js";
import { type CallPolicy, callKubernetes, DEFAULT_CALL_POLICY } from "./api-call.js";
import { connectKubernetes, type KubeconfigSource, type KubernetesClient } from "./connect.js";
import { type EksSignIn, eksTokenSource } from "./eks-token.js";

/**
 * Every call core/adapters/kubernetes makes, as a right in hookflow's namespace: what the shipped Role
 * (infra/kubernetes/scheduler.yaml) grants, no more (a test holds the two equal).
 */
export const SCHEDULER_RIGHTS: readonly KubernetesRight[] = [
  { verb: "create", group: "batch", resource: "jobs", why: "submit a task's Job" },
  { verb: "get", group: "batch", resource: "jobs", why: "observe a Job" },
  { verb: "delete", group: "batch", resource: "jobs", why: "cancel a task, delete an ended Job" },
  { verb: "create", group: "", resource: "secrets", why: "give a task its sensitive values" },
  { verb: "list", group: "", resource: "pods", why: "read exit codes and why a pod waits" },
  { verb: "patch", group: "", resource: "pods", why: "stop a canceled or timed-out task, keeping its log" },
  { verb: "get", group: "", resource: "pods", subresource: "log", why: "read and archive logs" },
  { verb: "list", group: "", resource: "events", why: "see why a Job has no pod (FailedCreate)" },
];

/**
 * Asks the cluster, with hookflow's own kubeconfig, whether each right is granted in `namespace`
 * (SelfSubjectAccessReview: every authenticated identity may ask this about itself).
 */
export async function createClusterAccess(
  options: Omit<KubeconfigSource, "bearerToken"> & {
    namespace: string;
    policy?: CallPolicy;
    eks?: EksSignIn;
    client?: KubernetesClient;
  },
): Promise<ClusterAccess> {
  const bearerToken = options.eks && eksTokenSource(options.eks);
  const policy = options.policy ?? DEFAULT_CALL_POLICY;
  const api = await connectKubernetes(
    { ...options, ...(bearerToken && { bearerToken }) },
    policy.requestTimeoutMs,
    options.client,
  );
  return {
    namespace: options.namespace,
    review: () =>
      Promise.all(
        SCHEDULER_RIGHTS.map(async (right) => {
          const answer = await callKubernetes(
            `review ${right.verb} ${right.resource}`,
            () =>
              api.reviewAccess({
                apiVersion: "authorization.k8s.io/v1",
                kind: "SelfSubjectAccessReview",
                spec: {
                  resourceAttributes: {
                    namespace: options.namespace,
                    verb: right.verb,
                    group: right.group,
                    resource: right.resource,
                    ...(right.subresource && { subresource: right.subresource }),
                  },
                },
              }),
            policy,
          );
          return { ...right, allowed: answer.status?.allowed === true };
        }),
      ),
  };
}
