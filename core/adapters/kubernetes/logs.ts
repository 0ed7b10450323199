import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import type { CollectedLog, ContainerLog } from "../../ports.js";
import { type CallPolicy, callKubernetes, KubernetesRejection } from "./api-call.js";
import type { KubernetesApis, Wire } from "./apis.js";
import { findJobPod } from "./pods.js";

/** How much of one container's log one request may download (the API cuts the answer there: `limitBytes`). */
export const LOG_REQUEST_MAX_BYTES = 1024 * 1024;
/** The lines asked for when the caller asks for the whole log: the API keeps the newest ones. */
export const LOG_DEFAULT_TAIL_LINES = 10_000;
/** Requests per container: a cut answer is asked again for fewer lines, at most this many times in all. */
const LOG_REQUESTS_PER_CONTAINER = 3;

export interface LogLimits {
  maxBytes: number;
  defaultTailLines: number;
}

/**
 * The logs of a Job's pod, every container that has started (init containers first, in order), each read with
 * `tailLines` and `limitBytes` so that a large log is never downloaded whole. A pod with one container gives its
 * log as it is; with more, each log follows a `==> init container clone <==` line. Empty while there is nothing
 * to read: no pod yet, or a pod already removed.
 */
export async function readTaskLog(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
  tail?: number,
  limits: LogLimits = { maxBytes: LOG_REQUEST_MAX_BYTES, defaultTailLines: LOG_DEFAULT_TAIL_LINES },
  only?: string,
): Promise<string> {
  const pod = await findJobPod(apis, namespace, jobName, policy);
  const podName = pod?.metadata?.name;
  if (!pod || !podName) return "";
  const containers = containersOf(pod).filter((c) => only === undefined || c.name === only);
  const parts: string[] = [];
  for (const container of containers) {
    if (!container.started) continue;
    const log = await readContainerLog(apis, namespace, podName, container.name, policy, tail, limits);
    if (log === undefined) continue;
    parts.push(
      containers.length === 1
        ? log
        : `==> ${container.init ? "init container" : "container"} ${container.name} <==\n${log}${log === "" || log.endsWith("\n") ? "" : "\n"}`,
    );
  }
  return parts.join("");
}

interface ContainerRef {
  name: string;
  init: boolean;
  /** It has run or runs: a waiting container has no log yet (the API answers 400). */
  started: boolean;
}

function containersOf(pod: Wire<V1Pod>): ContainerRef[] {
  const started = (statuses: Wire<V1ContainerStatus>[] | undefined, name: string) => {
    const status = statuses?.find((s) => s.name === name);
    return Boolean(status?.state?.running || status?.state?.terminated || status?.lastState?.terminated);
  };
  return [
    ...(pod.spec?.initContainers ?? []).map((c) => ({
      name: c.name,
      init: true,
      started: started(pod.status?.initContainerStatuses, c.name),
    })),
    ...(pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      init: false,
      started: started(pod.status?.containerStatuses, c.name),
    })),
  ];
}

/**
 * The newest lines of one container's log within `limits.maxBytes`. `limitBytes` keeps the start of what
 * `tailLines` selects, so an answer cut at the limit lacks the newest lines: the container is asked again for
 * half the lines that fitted, a bounded number of times. Undefined when the container has no log to give.
 */
async function readContainerLog(
  apis: KubernetesApis,
  namespace: string,
  podName: string,
  container: string,
  policy: CallPolicy,
  tail: number | undefined,
  limits: LogLimits,
): Promise<string | undefined> {
  let lines = tail ?? limits.defaultTailLines;
  let text = "";
  for (let request = 1; request <= LOG_REQUESTS_PER_CONTAINER; request++) {
    try {
      text = await callKubernetes(
        `read the log of container "${container}" of pod "${podName}"`,
        () =>
          apis.readPodLog(namespace, podName, { container, tailLines: lines, limitBytes: limits.maxBytes }),
        policy,
      );
    } catch (error) {
      // 400: the container has not started (or was restarted and is waiting); 404: the pod is gone.
      if (error instanceof KubernetesRejection && (error.code === 400 || error.code === 404))
        return undefined;
      throw error;
    }
    if (Buffer.byteLength(text) < limits.maxBytes || lines <= 1) return text;
    const fitted = text.split("\n").length - 1;
    lines = Math.max(1, Math.floor(fitted / 2));
  }
  // Still cut: the newest line alone is longer than the limit. Its start is better than nothing.
  return text;
}

/**
 * Every started container's whole log (init containers first), each line with its time (`timestamps=true`), for
 * the archive. A log longer than `maxBytes` is read again for fewer lines, so its newest part is what is kept.
 */
export async function collectTaskLog(
  apis: KubernetesApis,
  namespace: string,
  jobName: string,
  policy: CallPolicy,
  maxBytes: number,
): Promise<CollectedLog> {
  const pod = await findJobPod(apis, namespace, jobName, policy);
  const podName = pod?.metadata?.name;
  if (!pod || !podName) return { state: "gone" };
  const containers: ContainerLog[] = [];
  for (const container of containersOf(pod)) {
    if (!container.started) continue;
    let lines: number | undefined;
    for (let request = 1; ; request++) {
      let text: string;
      try {
        text = await callKubernetes(
          `read the log of container "${container.name}" of pod "${podName}"`,
          () =>
            apis.readPodLog(namespace, podName, {
              container: container.name,
              timestamps: true,
              limitBytes: maxBytes,
              ...(lines !== undefined && { tailLines: lines }),
            }),
          policy,
        );
      } catch (error) {
        // 404: the pod went while being read. 400: the container is waiting again.
        if (error instanceof KubernetesRejection && error.code === 404) return { state: "gone" };
        if (error instanceof KubernetesRejection && error.code === 400) break;
        throw error;
      }
      const cut = lines !== undefined || Buffer.byteLength(text) >= maxBytes;
      if (Buffer.byteLength(text) < maxBytes || request >= LOG_REQUESTS_PER_CONTAINER) {
        containers.push({
          name: container.name,
          init: container.init,
          text,
          timestamps: true,
          ...(cut && { cut }),
        });
        break;
      }
      lines = Math.max(1, Math.floor((text.split("\n").length - 1) / 2));
    }
  }
  const phase = pod.status?.phase;
  const running = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ].some((s) => s.state?.running);
  return { state: "found", ended: phase === "Succeeded" || phase === "Failed" || !running, containers };
}
