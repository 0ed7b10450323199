/**
 * A fake Kubernetes API server for tests, spoken to by the real @kubernetes/client-node:
 *
 *   const fake = await startFakeKubernetes({ autoComplete: (job) => ({ terminationMessage: "A=1" }) });
 *   const runner = await createKubernetesRunner({ kubeconfig: fake.kubeconfig, namespace: "ci", retryBudgetMs: 300 });
 *   await runner.submit(launch);            // the Job's pod runs, then completes by itself
 *   fake.complete(jobName, { terminationMessage: "A=1" });  // or drive it by hand (startDelayMs: "manual")
 *   fake.injectFault({ method: "POST", pathIncludes: "/jobs", status: 500, times: 2 });
 *   fake.containerWaiting(jobName, { reason: "ImagePullBackOff" });   // what a kubelet reports
 *   fake.setPodAdmission(() => 'violates PodSecurity "restricted:latest": …');  // FailedCreate events
 *   fake.markFailureTarget(jobName, reason, message); fake.markSuccessCriteriaMet(jobName); fake.evict(jobName);
 *   startFakeKubernetes({ authorization: { objects: readManifests("infra/kubernetes"), serviceAccounts } });
 *   startFakeKubernetes({ eks: { cluster, region, credentials, username, groups } });  // EKS IAM tokens
 *   fake.requests;                          // every request: method, path, query, body, status
 *   await fake.close();
 */
export type {
  AutoOutcome,
  CompleteOptions,
  FailOptions,
  FailReason,
  FakeJobView,
  PodAdmission,
  WaitingOptions,
  WaitingReason,
} from "./cluster.js";
export { FakeCluster, lastLines } from "./cluster.js";
export { type EksAuthentication, eksTokenProblem } from "./eks.js";
export { expandEnvValue } from "./env.js";
export { type Authorization, readManifests, serviceAccountUser } from "./rbac.js";
export { schemaProblems } from "./schema.js";
export {
  FakeKubernetes,
  type FakeKubernetesOptions,
  type Fault,
  type RecordedRequest,
  startFakeKubernetes,
  type TlsKubeconfig,
} from "./server.js";
