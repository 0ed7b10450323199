import type { V1Job } from "@kubernetes/client-node";
import { PermanentError, RetryableError } from "../../errors.js";
import { DEFAULT_ARCHIVED_LOG_MAX_BYTES, type TaskLaunch } from "../../model/index.js";
import type { CollectedLog, JobObservation, JobRef, TaskRunner } from "../../ports.js";
import { type CallPolicy, callKubernetes, DEFAULT_CALL_POLICY, KubernetesRejection } from "./api-call.js";
import type { KubernetesApis, Wire } from "./apis.js";
import { connectKubernetes, type KubeconfigSource, type KubernetesClient } from "./connect.js";
import { type EksSignIn, eksTokenSource } from "./eks-token.js";
import { buildJob, DEFAULT_TTL_SECONDS_AFTER_FINISHED } from "./job.js";
import {
  collectTaskLog,
  LOG_DEFAULT_TAIL_LINES,
  LOG_REQUEST_MAX_BYTES,
  type LogLimits,
  readTaskLog,
} from "./logs.js";
import { isDnsLabel } from "./manifest-schema.js";
import { DEFAULT_IMAGE_PULL_GRACE_MS, type ObserveSettings, observeJob } from "./observe.js";
import { buildTaskSecret, type JobOwner } from "./secret.js";
import { stopJob } from "./stop.js";

export interface KubernetesRunnerOptions extends Omit<KubeconfigSource, "bearerToken"> {
  namespace: string;
  /**
   * Sign in to an EKS cluster with an IAM identity (HOOKFLOW_EKS_CLUSTER): every request carries a token signed
   * with these credentials (the function's role), renewed before it expires; the kubeconfig or `endpoint` only
   * says where the cluster is.
   */
  eks?: EksSignIn;
  /**
   * Default 604800 (7 days): only a safety net, since hookflow deletes a finished Job itself once its log is
   * archived; an archive outage longer than this can lose a log.
   */
  ttlSecondsAfterFinished?: number;
  /** Total time one API call is retried for (5xx, 429, timeouts) before RetryableError. Default 10 000. */
  retryBudgetMs?: number;
  /** One request's limit. Default 5000. */
  requestTimeoutMs?: number;
  /** The first retry's delay, doubled for each further one (up to 2 s). Default 100. */
  retryBaseDelayMs?: number;
  /** How long a failing image pull is given before its attempt fails. Default 60 000. */
  imagePullGraceMs?: number;
  /** The most one log request downloads per container (`limitBytes`). Default 1 MiB. */
  logRequestMaxBytes?: number;
  /** The most of one container's log collected for the archive. Default 50 MB. */
  archivedLogMaxBytes?: number;
  /** Which client talks to the cluster (see KubernetesClient). Default `auto`. */
  client?: KubernetesClient;
}

export interface KubernetesRunnerSettings {
  namespace: string;
  ttlSecondsAfterFinished: number;
  policy: CallPolicy;
  observe?: Partial<ObserveSettings>;
  logs?: Partial<LogLimits>;
  /** The most of one container's log collected for the archive. Default 50 MB. */
  archivedLogMaxBytes?: number;
}

/**
 * A Kubernetes runner from a kubeconfig (text, file, or the default lookup) or an EKS endpoint, and a namespace.
 * Asynchronous because @kubernetes/client-node is loaded only for credentials the built-in client does not take.
 */
export async function createKubernetesRunner(options: KubernetesRunnerOptions): Promise<KubernetesRunner> {
  const policy: CallPolicy = {
    ...DEFAULT_CALL_POLICY,
    ...(options.retryBudgetMs !== undefined && { retryBudgetMs: options.retryBudgetMs }),
    ...(options.requestTimeoutMs !== undefined && { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.retryBaseDelayMs !== undefined && { baseDelayMs: options.retryBaseDelayMs }),
  };
  // Checked here so that a misconfiguration fails at start-up, not on the first task.
  if (!isDnsLabel(options.namespace))
    throw new PermanentError(`"${options.namespace}" is not a valid Kubernetes namespace name`);
  const ttl = options.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED;
  if (!Number.isInteger(ttl) || ttl < 0)
    throw new PermanentError(`ttlSecondsAfterFinished must be a whole number of seconds, not ${ttl}`);
  const bearerToken = options.eks && eksTokenSource(options.eks);
  const apis = await connectKubernetes(
    { ...options, ...(bearerToken && { bearerToken }) },
    policy.requestTimeoutMs,
    options.client,
  );
  return new KubernetesRunner(apis, {
    namespace: options.namespace,
    ttlSecondsAfterFinished: ttl,
    policy,
    ...(options.imagePullGraceMs !== undefined && {
      observe: { imagePullGraceMs: options.imagePullGraceMs },
    }),
    ...(options.logRequestMaxBytes !== undefined && { logs: { maxBytes: options.logRequestMaxBytes } }),
    ...(options.archivedLogMaxBytes !== undefined && { archivedLogMaxBytes: options.archivedLogMaxBytes }),
  });
}

/**
 * Runs each task attempt as a Kubernetes Job named `launch.jobName`, its sensitive env in a Secret owned by
 * that Job. Every call is safe to repeat: AlreadyExists on create and NotFound on delete mean the work is done.
 */
export class KubernetesRunner implements TaskRunner {
  private readonly observeSettings: ObserveSettings;
  private readonly logLimits: LogLimits;

  constructor(
    private readonly apis: KubernetesApis,
    private readonly settings: KubernetesRunnerSettings,
  ) {
    this.observeSettings = {
      imagePullGraceMs: DEFAULT_IMAGE_PULL_GRACE_MS,
      now: Date.now,
      ...settings.observe,
    };
    this.logLimits = {
      maxBytes: LOG_REQUEST_MAX_BYTES,
      defaultTailLines: LOG_DEFAULT_TAIL_LINES,
      ...settings.logs,
    };
  }

  /**
   * The Job first, then its Secret with an owner reference to the Job's uid, which exists only once the Job
   * does. The pod waits (CreateContainerConfigError) until the Secret is there, and Kubernetes deletes the
   * Secret with the Job. The other order would leave a Secret behind whenever the Job's creation failed, and
   * would need a second write to add the owner. A redelivered submit finds the Job (409), reads its uid and
   * creates the Secret if the first try stopped before it. A Secret the API refuses for good deletes the Job,
   * whose pod would otherwise wait for it until the deadline.
   */
  async submit(launch: TaskLaunch): Promise<void> {
    const { namespace, ttlSecondsAfterFinished } = this.settings;
    const job = buildJob(launch, { namespace, ttlSecondsAfterFinished });
    const owner = await this.createJob(job, launch.jobName);
    if (Object.keys(launch.secretEnv).length === 0) return;
    const secret = buildTaskSecret(launch, namespace, owner);
    try {
      await this.call(`create the Secret of Job "${launch.jobName}"`, () =>
        this.apis.createSecret(namespace, secret),
      );
    } catch (error) {
      // Created by an earlier delivery of this submit.
      if (isRejection(error, 409)) return;
      if (error instanceof PermanentError) await this.withdraw(launch.jobName, error);
      throw error;
    }
  }

  /**
   * A Job that will never start (an image that cannot be pulled, a pod that admission refuses) is stopped as soon
   * as it is seen, so that it holds no quota or node and its controller stops retrying; the observation says why.
   * Stopped, not deleted: an init container that ran before the stuck one has a log worth keeping, and the Job is
   * deleted once its log is archived, like any ended attempt's (a Job with no started pod is deleted at once).
   */
  async observe(ref: JobRef): Promise<JobObservation> {
    const { observation, stuck } = await observeJob(
      this.apis,
      this.settings.namespace,
      ref.jobName,
      this.settings.policy,
      this.observeSettings,
    );
    if (!stuck) return observation;
    try {
      await this.stop(ref);
    } catch (error) {
      observation.message += `; its Job could not be stopped: ${messageOf(error)}`;
    }
    return observation;
  }

  /** See `stopJob`: its pods' containers are killed and the pods kept; a Job whose pod never started is deleted. */
  async stop(ref: JobRef): Promise<void> {
    const stopped = await stopJob(this.apis, this.settings.namespace, ref.jobName, this.settings.policy);
    if (stopped === "nothingStarted") await this.deleteJob(ref.jobName);
  }

  cancel(ref: JobRef): Promise<void> {
    return this.deleteJob(ref.jobName);
  }

  /** Background propagation: the Job goes now, its pod and Secret right after, by the garbage collector. */
  private async deleteJob(jobName: string): Promise<void> {
    try {
      await this.call(`delete Job "${jobName}"`, () => this.apis.deleteJob(this.settings.namespace, jobName));
    } catch (error) {
      // Already deleted, by an earlier cancel or by its TTL.
      if (!isRejection(error, 404)) throw error;
    }
  }

  logs(ref: JobRef, options: { tail?: number; container?: string } = {}): Promise<string> {
    return readTaskLog(
      this.apis,
      this.settings.namespace,
      ref.jobName,
      this.settings.policy,
      options.tail,
      this.logLimits,
      options.container,
    );
  }

  collectLogs(ref: JobRef): Promise<CollectedLog> {
    return collectTaskLog(
      this.apis,
      this.settings.namespace,
      ref.jobName,
      this.settings.policy,
      this.settings.archivedLogMaxBytes ?? DEFAULT_ARCHIVED_LOG_MAX_BYTES,
    );
  }

  /** Deletes the Job of a submit that failed for good; the submit's own error is what the caller sees. */
  private async withdraw(jobName: string, cause: Error): Promise<void> {
    try {
      await this.deleteJob(jobName);
    } catch (error) {
      cause.message += `; its Job could not be deleted: ${messageOf(error)}`;
    }
  }

  private async createJob(job: V1Job, name: string): Promise<JobOwner> {
    const namespace = this.settings.namespace;
    let created: Wire<V1Job>;
    try {
      created = await this.call(`create Job "${name}"`, () => this.apis.createJob(namespace, job));
    } catch (error) {
      if (!isRejection(error, 409)) throw error;
      // Submitted by an earlier delivery: the same attempt, since the name is derived from it.
      try {
        created = await this.call(`read Job "${name}"`, () => this.apis.readJob(namespace, name));
      } catch (readError) {
        if (isRejection(readError, 404))
          throw new RetryableError(`Job "${name}" was deleted while it was being submitted`, undefined, {
            cause: readError,
          });
        throw readError;
      }
    }
    const uid = created.metadata?.uid;
    if (!uid) throw new RetryableError(`Kubernetes returned Job "${name}" without a uid`);
    return { name, uid };
  }

  private call<T>(what: string, request: () => Promise<T>): Promise<T> {
    return callKubernetes(what, request, this.settings.policy);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function isRejection(error: unknown, code: number): boolean {
  return error instanceof KubernetesRejection && error.code === code;
}
