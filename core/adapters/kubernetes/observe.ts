import type { CoreV1Event, V1ContainerStatus, V1Job, V1Pod } from "@kubernetes/client-node";
import type { JobObservation, JobState } from "../../ports.js";
import { type CallPolicy, callKubernetes, KubernetesRejection } from "./api-call.js";
import type { KubernetesApis, Wire } from "./apis.js";
import { findJobPod } from "./pods.js";
import { secretNameFor } from "./secret.js";

// Objects as either client gives them (see Wire), and as the relay's watches give them.
type Job = Wire<V1Job>;
type Pod = Wire<V1Pod>;
type KubeEvent = Wire<CoreV1Event>;
type ContainerStatus = Wire<V1ContainerStatus>;

/** How observations judge a Job that has not started. */
export interface ObserveSettings {
  /**
   * How long an image pull may keep failing (ErrImagePull, ImagePullBackOff) before the attempt fails: a registry
   * hiccup clears within it, a wrong tag or missing pull secret does not.
   */
  imagePullGraceMs: number;
  /** The clock the grace is measured with (a pod's creationTimestamp is the server's). */
  now: () => number;
}

export const DEFAULT_IMAGE_PULL_GRACE_MS = 60_000;

/** An observation, and whether the Job is stuck for good (it will never start, so it should be deleted). */
export interface Observed {
  observation: JobObservation;
  stuck: boolean;
}

/**
 * What became of one task attempt's Job. A Job that is not there is "missing", never a success. The pods are
 * listed once the Job has finished (its termination message, what ended it) and while it has not started (a
 * waiting reason that will not clear); the Job's events only when it has no pod (FailedCreate says why).
 */
export async function observeJob(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
  settings: ObserveSettings,
): Promise<Observed> {
  let job: Job;
  try {
    job = await callKubernetes(`read Job "${jobName}"`, () => apis.readJob(namespace, jobName), policy);
  } catch (error) {
    if (error instanceof KubernetesRejection && error.code === 404)
      return { observation: { state: "missing" }, stuck: false };
    throw error;
  }
  const state = jobState(job);
  const pod = state === "running" ? undefined : await findJobPod(apis, namespace, jobName, policy);
  return judgeJob(job, pod, settings) ?? (await withFailedCreate(apis, job, policy));
}

/**
 * The observation of a Job and its pod as already read (by `observeJob`, or from the relay's watch), or
 * undefined when only the Job's events can tell: a pending Job without a live pod (see `withFailedCreate`).
 */
export function judgeJob(job: Job, pod: Pod | undefined, settings: ObserveSettings): Observed | undefined {
  const state = jobState(job);
  if (state === "succeeded" || state === "failed")
    return { observation: observationOf(job, pod), stuck: false };
  if (state !== "pending") return { observation: { state }, stuck: false };
  if (!pod || !isLive(pod)) return undefined;
  const cause = waitingCause(pod, job.metadata?.name ?? "", settings);
  return cause
    ? { observation: { state: "failed", message: cause }, stuck: true }
    : { observation: { state }, stuck: false };
}

/** A pending Job without a live pod: failed when a FailedCreate event says why its pod cannot be created. */
export async function withFailedCreate(
  apis: KubernetesApis,
  job: Job,
  policy: CallPolicy,
): Promise<Observed> {
  const cause = await failedCreate(apis, job, policy);
  return cause
    ? { observation: { state: "failed", message: cause }, stuck: true }
    : { observation: { state: "pending" }, stuck: false };
}

/**
 * A Job's state from its status:
 * - a Complete or SuccessCriteriaMet condition: succeeded;
 * - a Failed or FailureTarget condition: failed. Since 1.31 the controller sets FailureTarget as soon as it has
 *   decided, and Failed only once the pod has terminated, which on a lost node takes minutes;
 * - a ready pod, or an active one where the API does not count ready pods: running;
 * - otherwise pending: created, scheduling, pulling its image, waiting for its Secret.
 */
export function jobState(job: Job): JobState {
  if (hasCondition(job, "Complete") || hasCondition(job, "SuccessCriteriaMet")) return "succeeded";
  if (hasCondition(job, "Failed") || hasCondition(job, "FailureTarget")) return "failed";
  const { active = 0, ready } = job.status ?? {};
  if (ready === undefined ? active > 0 : ready > 0) return "running";
  return "pending";
}

/** The observation of a Job, with its pod's account of how it ended when the pod is still there. */
export function observationOf(job: Job, pod: Pod | undefined): JobObservation {
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

function hasCondition(job: Job, type: string) {
  return (job.status?.conditions ?? []).some((c) => c.type === type && c.status === "True");
}

function failureMessage(job: Job, pod: Pod | undefined, taskContainer: string | undefined): string {
  const conditions = job.status?.conditions ?? [];
  const failed =
    conditions.find((c) => c.type === "Failed" && c.status === "True") ??
    conditions.find((c) => c.type === "FailureTarget" && c.status === "True");
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
      // The kubelet killed the pod at its own deadline: the task's timeout, or 0 when hookflow stopped it.
      if (pod?.status?.reason === "DeadlineExceeded") {
        const seconds = pod.spec?.activeDeadlineSeconds;
        return seconds === 0
          ? "the task was stopped: its pod's deadline was set to 0 and its containers killed"
          : `the task ran past its deadline of ${seconds} seconds: its containers were killed`;
      }
      const container = failedContainer(pod, taskContainer);
      const terminated = container?.state?.terminated;
      if (!container || !terminated)
        return "the task's container failed (its pod is gone, so the exit code is unknown)";
      const init = pod?.status?.initContainerStatuses?.includes(container) ? "init " : "";
      return `${init}container "${container.name}" failed with exit code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}`;
    }
    default:
      return `the Job failed: ${failed?.reason ?? "unknown reason"}${failed?.message ? `: ${failed.message}` : ""}`;
  }
}

function statusesOf(pod: Pod | undefined): ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

/** The container whose exit failed the pod: the task's own when it failed, else the first that did. */
function failedContainer(pod: Pod | undefined, taskContainer: string | undefined) {
  const failed = statusesOf(pod).filter((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
  return failed.find((s) => s.name === taskContainer) ?? failed[0];
}

function waitingContainer(pod: Pod | undefined) {
  return statusesOf(pod).find((s) => s.state?.waiting?.reason);
}

function terminationMessageOf(pod: Pod | undefined, taskContainer: string | undefined): string | undefined {
  const status = pod?.status?.containerStatuses?.find((s) => s.name === taskContainer);
  const message = status?.state?.terminated?.message ?? status?.lastState?.terminated?.message;
  return message === undefined || message === "" ? undefined : message;
}

/** Waiting reasons that do not clear by waiting: the attempt fails at once (pulls after a grace). */
const NEVER_STARTS = new Set(["InvalidImageName", "CreateContainerConfigError", "ErrImageNeverPull"]);
const PULL_FAILING = new Set(["ErrImagePull", "ImagePullBackOff"]);

const isLive = (pod: Pod) => pod.status?.phase === "Pending" || pod.status?.phase === "Running";

/** Why a pending pod will never start, if it will not: the first container stuck for good, named. */
function waitingCause(pod: Pod, jobName: string, settings: ObserveSettings): string | undefined {
  const age = settings.now() - new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
  const stuck = (statuses: ContainerStatus[] | undefined) =>
    statuses?.find((s) => {
      const waiting = s.state?.waiting;
      if (!waiting?.reason) return false;
      // The attempt's own Secret is created right after its Job: until then its pod waits for it.
      if (
        waiting.reason === "CreateContainerConfigError" &&
        waiting.message?.includes(`"${secretNameFor(jobName)}"`)
      )
        return false;
      return (
        NEVER_STARTS.has(waiting.reason) ||
        (PULL_FAILING.has(waiting.reason) && age >= settings.imagePullGraceMs)
      );
    });
  const init = stuck(pod.status?.initContainerStatuses);
  const container = init ?? stuck(pod.status?.containerStatuses);
  if (!container) return undefined;
  const waiting = container.state?.waiting;
  const pulling = PULL_FAILING.has(waiting?.reason ?? "")
    ? ` (its pod was created ${Math.round(age / 1000)} s ago)`
    : "";
  return `${init ? "init container" : "container"} "${container.name}" cannot start: ${waiting?.reason}${waiting?.message ? `: ${waiting.message}` : ""}${pulling}`;
}

/**
 * Why the Job controller could not create the Job's pod, from its newest FailedCreate event: Pod Security
 * Admission, a ResourceQuota, a missing ServiceAccount.
 */
async function failedCreate(apis: KubernetesApis, job: Job, policy: CallPolicy): Promise<string | undefined> {
  const { name, namespace, uid } = job.metadata ?? {};
  if (!name || !namespace || !uid) return undefined;
  const events = await callKubernetes(
    `list the events of Job "${name}"`,
    () => apis.listEvents(namespace, `involvedObject.uid=${uid},reason=FailedCreate`),
    policy,
  );
  const time = (e: KubeEvent) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
  const newest = events.reduce<KubeEvent | undefined>(
    (best, e) => (!best || time(e) >= time(best) ? e : best),
    undefined,
  );
  return newest && `the Job could not create its pod: ${newest.message ?? "FailedCreate"}`;
}
