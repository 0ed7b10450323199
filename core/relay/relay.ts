import {
  type Informer,
  type KubeConfig,
  makeInformer,
  type ObjectCache,
  type V1Job,
  type V1Pod,
} from "@kubernetes/client-node";
import { type CallPolicy, DEFAULT_CALL_POLICY } from "../adapters/kubernetes/api-call.js";
import type { KubernetesApis, Wire } from "../adapters/kubernetes/apis.js";
import { clientNodeApis, makeApis } from "../adapters/kubernetes/client.js";
import { HOOKFLOW_KEYS, JOB_NAME_LABEL, MANAGED_BY } from "../adapters/kubernetes/labels.js";
import {
  DEFAULT_IMAGE_PULL_GRACE_MS,
  jobState,
  judgeJob,
  type ObserveSettings,
  withFailedCreate,
} from "../adapters/kubernetes/observe.js";
import { findJobPod } from "../adapters/kubernetes/pods.js";
import type { JobObservation, Logger } from "../ports.js";

/** What the relay tells hookflow about one Job: the attempt it runs (from its annotations) and what it shows. */
export interface RelayReport {
  jobName: string;
  runId: string;
  task: string;
  attempt: number;
  observation: RelayObservation;
}

/** The states worth a report: pending changes nothing, and a deleted Job is for the scheduler to judge (lost). */
export type RelayObservation = JobObservation & { state: "running" | "succeeded" | "failed" };

export interface RelayOptions {
  kubeconfig: KubeConfig;
  namespace: string;
  /** Sends one report; throws when it should be tried again. */
  report: (report: RelayReport) => Promise<void>;
  log: Logger;
  /** How often Jobs that have not started are judged again (an image pull's grace, FailedCreate). Default 10 s. */
  resyncMs?: number;
  /** Delay before watching again after a watch failed (the API server was unreachable). Default 1 s. */
  restartDelayMs?: number;
  imagePullGraceMs?: number;
  policy?: CallPolicy;
}

const SELECTOR = `${MANAGED_BY.key}=${MANAGED_BY.value}`;

/**
 * Watches hookflow's Jobs and pods in one namespace and reports each Job's observable change at once. It keeps
 * nothing but the watch's own cache: after a restart or a 410 Gone it lists again and reports what it finds, and
 * hookflow, whose commands are idempotent, ignores what it already knew. Only reads: Jobs, pods, events.
 */
export class Relay {
  private readonly jobs: Informer<V1Job> & ObjectCache<V1Job>;
  private readonly pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly apis: KubernetesApis;
  private readonly settings: ObserveSettings;
  private readonly policy: CallPolicy;
  /** What was last reported per Job in this process's life, so that a pod's every change is not a report. */
  private readonly reported = new Map<string, string>();
  /** Jobs whose end was reported: nothing they show later changes what hookflow knows. */
  private readonly ended = new Set<string>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Reports being sent, one chain per Job so that a Job's reports arrive in order. */
  private readonly sending = new Map<string, Promise<void>>();

  constructor(private readonly options: RelayOptions) {
    const { kubeconfig, namespace } = options;
    this.policy = options.policy ?? DEFAULT_CALL_POLICY;
    // The informers need client-node's own list calls; the judgements take the calls every client makes.
    const lists = clientNodeApis(kubeconfig, this.policy.requestTimeoutMs);
    this.apis = makeApis(kubeconfig, this.policy.requestTimeoutMs);
    this.settings = {
      imagePullGraceMs: options.imagePullGraceMs ?? DEFAULT_IMAGE_PULL_GRACE_MS,
      now: Date.now,
    };
    this.jobs = makeInformer(
      kubeconfig,
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      () => lists.batch.listNamespacedJob({ namespace, labelSelector: SELECTOR }),
      SELECTOR,
    );
    this.pods = makeInformer(
      kubeconfig,
      `/api/v1/namespaces/${namespace}/pods`,
      () => lists.core.listNamespacedPod({ namespace, labelSelector: SELECTOR }),
      SELECTOR,
    );
    for (const verb of ["add", "update"] as const) {
      this.jobs.on(verb, (job) => this.consider(job));
      this.pods.on(verb, (pod) => {
        const job = this.jobOf(pod);
        if (job) this.consider(job);
      });
    }
    this.jobs.on("delete", (job) => {
      this.reported.delete(job.metadata?.name ?? "");
      this.ended.delete(job.metadata?.name ?? "");
    });
    for (const informer of [this.jobs, this.pods])
      informer.on("error", (error) => {
        // An informer stops on any error but 410 Gone (which relists by itself): watch again after a pause.
        options.log.warn("relay watch failed; watching again", { error: String(error) });
        this.later(options.restartDelayMs ?? 1000, () => {
          if (!this.stopped) void informer.start();
        });
      });
  }

  async start(): Promise<void> {
    await Promise.all([this.pods.start(), this.jobs.start()]);
    this.resync = setInterval(() => {
      for (const job of this.jobs.list()) this.consider(job);
    }, this.options.resyncMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    // A pause ends at once, so that a delivery waiting to try again gives up now.
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    await Promise.all([this.jobs.stop(), this.pods.stop()]);
    await Promise.all(this.sending.values());
  }

  private jobOf(pod: V1Pod): V1Job | undefined {
    const name = pod.metadata?.labels?.[JOB_NAME_LABEL];
    return name ? this.jobs.get(name, this.options.namespace) : undefined;
  }

  /** The Job's newest pod in the cache (a replaced pod's successor, after an eviction). */
  private podOf(job: V1Job): V1Pod | undefined {
    const name = job.metadata?.name;
    const time = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
    return this.pods
      .list(this.options.namespace)
      .filter((p) => p.metadata?.labels?.[JOB_NAME_LABEL] === name)
      .reduce<V1Pod | undefined>((best, p) => (!best || time(p) >= time(best) ? p : best), undefined);
  }

  private consider(job: V1Job): void {
    if (this.stopped) return;
    const attempt = attemptOf(job);
    if (!attempt || this.ended.has(attempt.jobName)) return;
    const state = jobState(job);
    const cached = this.podOf(job);
    // The Job's watch and its pods' are separate streams: a Job seen finished before its pod's last change
    // reads the pod (its termination message, its exit code) from the API instead of the cache.
    const finished = state === "succeeded" || state === "failed";
    const settled = cached?.status?.phase === "Succeeded" || cached?.status?.phase === "Failed";
    if (finished && !settled) {
      this.track(
        attempt.jobName,
        findJobPod(this.apis, this.options.namespace, attempt.jobName, this.policy).then((pod) =>
          this.judge(attempt, job, pod),
        ),
      );
      return;
    }
    this.judge(attempt, job, cached);
  }

  private judge(attempt: Attempt, job: V1Job, pod: Wire<V1Pod> | undefined): void {
    const judged = judgeJob(job, pod, this.settings);
    if (judged) {
      this.send(attempt, judged.observation);
      return;
    }
    // Pending without a pod: only the Job's events say whether its pod cannot be created.
    this.track(
      attempt.jobName,
      withFailedCreate(this.apis, job, this.policy).then((observed) =>
        this.send(attempt, observed.observation),
      ),
    );
  }

  private track(jobName: string, reading: Promise<void>): void {
    reading.catch((error: unknown) =>
      this.options.log.warn("relay could not read a Job's pod or events", { jobName, error: String(error) }),
    );
  }

  private send(attempt: Attempt, observation: JobObservation): void {
    if (
      observation.state !== "running" &&
      observation.state !== "succeeded" &&
      observation.state !== "failed"
    )
      return;
    const fingerprint = JSON.stringify(observation);
    if (this.reported.get(attempt.jobName) === fingerprint) return;
    this.reported.set(attempt.jobName, fingerprint);
    if (observation.state !== "running") this.ended.add(attempt.jobName);
    const report: RelayReport = { ...attempt, observation: observation as RelayObservation };
    const previous = this.sending.get(attempt.jobName) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(report));
    this.sending.set(attempt.jobName, next);
    void next.finally(() => {
      if (this.sending.get(attempt.jobName) === next) this.sending.delete(attempt.jobName);
    });
  }

  /** Tries a report until it is delivered, backing off to 30 s; a stop ends the tries (a restart relists). */
  private async deliver(report: RelayReport): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.options.report(report);
        return;
      } catch (error) {
        this.options.log.warn("relay report not delivered; trying again", {
          jobName: report.jobName,
          error: String(error),
        });
        await new Promise<void>((resolve) => this.later(Math.min(250 * 2 ** attempt, 30_000), resolve));
      }
    }
  }

  private later(ms: number, action: () => void) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.set(timer, action);
  }
}

type Attempt = Omit<RelayReport, "observation">;

/** The attempt a Job runs, from the exact values hookflow annotated it with; undefined for any other Job. */
export function attemptOf(job: V1Job): Attempt | undefined {
  const annotations = job.metadata?.annotations ?? {};
  const jobName = job.metadata?.name;
  const runId = annotations[HOOKFLOW_KEYS.run];
  const task = annotations[HOOKFLOW_KEYS.task];
  const attempt = Number(annotations[HOOKFLOW_KEYS.attempt]);
  if (!jobName || !runId || !task || !Number.isInteger(attempt)) return undefined;
  return { jobName, runId, task, attempt };
}
