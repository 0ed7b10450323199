import { randomUUID } from "node:crypto";
import { expandEnvValue } from "./env.js";
import { parseLabelSelector } from "./selectors.js";
import {
  alreadyExists,
  badRequest,
  type Cause,
  invalid,
  JOBS,
  notFound,
  PODS,
  SECRETS,
  successStatus,
} from "./status.js";
import { validateJob, validateSecret } from "./validation.js";

type Json = Record<string, unknown>;
// The fake stores what it was sent; it reads fields loosely, as the API server's decoder would.
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are read and written field by field here.
type Obj = any;

export type FailReason = "BackoffLimitExceeded" | "DeadlineExceeded" | "PodFailurePolicy";

export interface CompleteOptions {
  /** Written to the task container's /dev/termination-log: `KEY=VALUE` lines. */
  terminationMessage?: string;
  /** Appended to the task container's log. */
  log?: string;
}

export interface FailOptions extends CompleteOptions {
  /** BackoffLimitExceeded: the container exited non-zero; DeadlineExceeded: the Job ran past its deadline. */
  reason: FailReason;
  /** The task container's exit code (BackoffLimitExceeded only); default 1. */
  exitCode?: number;
  /** The container's termination reason; default "Error" (say "OOMKilled" to play an out-of-memory kill). */
  containerReason?: string;
  /** An init container that failed instead of the task container (BackoffLimitExceeded only): the task never ran. */
  initContainer?: string;
}

/** What an automatic Job does once its pod runs; undefined leaves it running for the test to drive. */
export interface AutoOutcome extends CompleteOptions {
  fail?: { reason?: FailReason; exitCode?: number; containerReason?: string };
}

/** A Job as an automatic outcome sees it: its manifest and the env its task container was given. */
export interface FakeJobView {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  manifest: Json;
  /** The task container's env as the container sees it: Secret values resolved, `$(NAME)` expanded. */
  env: Record<string, string>;
}

export interface ClusterOptions {
  /** When a created Job's pod starts running: after this many ms, or "manual" (the test calls `start`). */
  startDelayMs: number | "manual";
  /** Plays every Job once its pod runs, after `autoCompleteDelayMs`. */
  autoComplete?: (job: FakeJobView) => AutoOutcome | undefined | Promise<AutoOutcome | undefined>;
  autoCompleteDelayMs: number;
  /** Fails Jobs that run past spec.activeDeadlineSeconds, as the Job controller does. */
  enforceDeadlines: boolean;
  /**
   * Admission of the pods the Job controller creates: a message refuses the pod (Pod Security Admission, a
   * ResourceQuota, a missing ServiceAccount), and the Job gets a FailedCreate event instead of a pod.
   */
  admitPod?: PodAdmission;
}

/** Undefined admits the pod; a message refuses it, worded as the admission plugin words it. */
export type PodAdmission = (pod: Readonly<Obj>) => string | undefined;

/** Reasons a container waits for; those after ContainerCreating are what a kubelet reports when it cannot start. */
export type WaitingReason =
  | "ContainerCreating"
  | "ErrImagePull"
  | "ImagePullBackOff"
  | "InvalidImageName"
  | "CreateContainerConfigError";

export interface WaitingOptions {
  reason: WaitingReason;
  message?: string;
  /** The container that waits (an init container's name too); default the task container. */
  container?: string;
}

interface PodRecord {
  pod: Obj;
  logs: Map<string, string>;
  /** Per container, the time each line of its log was written (RFC 3339 with nanoseconds, as the kubelet). */
  lineTimes: Map<string, string[]>;
  startRequested: boolean;
}

/** The kubelet's log: text appended, each new line stamped with the time it was written. */
function appendLog(record: PodRecord, container: string, text: string): void {
  const before = record.logs.get(container) ?? "";
  const after = before + text;
  record.logs.set(container, after);
  const lines = after.split("\n").length - (after.endsWith("\n") ? 1 : 0);
  const times = record.lineTimes.get(container) ?? [];
  const now = new Date().toISOString().replace(/Z$/, "000000Z");
  while (times.length < lines) times.push(now);
  record.lineTimes.set(container, times);
}

/** `timestamps=true`: each line after its time and one space. */
function stamped(log: string, times: string[]): string {
  const lines = log.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return lines.map((line, i) => `${times[i] ?? times.at(-1) ?? ""} ${line}`).join("");
}

const TERMINATION_MESSAGE_MAX_BYTES = 4096;
const FALLBACK_LOG_MAX_LINES = 80;
const FALLBACK_LOG_MAX_BYTES = 2048;
const NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const timestamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const copy = <T>(value: T): T => structuredClone(value);

/**
 * The state of a fake cluster: Jobs, their pods and Secrets, with the Job controller's, the kubelet's and the
 * garbage collector's behaviour reduced to what a runner depends on. API methods throw ApiError; the controls
 * (start, complete, fail…) throw plain errors when a test asks for something a real cluster could not do.
 */
export class FakeCluster {
  private readonly jobs = new Map<string, Obj>();
  private readonly pods = new Map<string, PodRecord>();
  private readonly secrets = new Map<string, Obj>();
  private readonly events: Obj[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly jobTimers = new Map<string, NodeJS.Timeout[]>();
  private resourceVersion = 1000;
  private podCount = 0;
  /** Errors thrown by `autoComplete`; the Job fails with the error in its log. */
  readonly autoCompleteErrors: unknown[] = [];
  /** Told after anything may have changed (the watch feed diffs Jobs and pods then). */
  onChange: (() => void) | undefined;

  constructor(private readonly options: ClusterOptions) {}

  /** Replaces the pod admission (see ClusterOptions.admitPod); undefined admits every pod. */
  setPodAdmission(admit: PodAdmission | undefined): void {
    if (admit) this.options.admitPod = admit;
    else delete this.options.admitPod;
  }

  // ------------------------------------------------------------------ API: jobs

  createJob(namespace: string, body: Obj): Obj {
    if (body?.metadata?.name === undefined && typeof body?.metadata?.generateName === "string")
      body.metadata.name = body.metadata.generateName + this.suffix();
    const name = String(body?.metadata?.name ?? "");
    const causes = validateJob(body ?? {}, namespace);
    if (causes.length > 0) throw invalid(JOBS, name, causes);
    if (this.jobs.has(key(namespace, name))) throw alreadyExists(JOBS, name);
    const uid = randomUUID();
    const job = copy(body);
    const controllerLabels = {
      "batch.kubernetes.io/controller-uid": uid,
      "batch.kubernetes.io/job-name": name,
      "controller-uid": uid,
      "job-name": name,
    };
    job.metadata = {
      ...job.metadata,
      namespace,
      uid,
      resourceVersion: this.nextVersion(),
      generation: 1,
      creationTimestamp: timestamp(),
    };
    job.spec = {
      backoffLimit: 6,
      completions: 1,
      parallelism: 1,
      completionMode: "NonIndexed",
      suspend: false,
      podReplacementPolicy: job.spec?.podFailurePolicy ? "Failed" : "TerminatingOrFailed",
      ...job.spec,
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": uid } },
    };
    job.spec.template.metadata = {
      ...job.spec.template.metadata,
      labels: { ...job.spec.template.metadata?.labels, ...controllerLabels },
    };
    job.status = { active: 1, ready: 0, terminating: 0, startTime: timestamp(), uncountedTerminatedPods: {} };
    this.jobs.set(key(namespace, name), job);
    const record = this.createPod(job);
    if (this.options.enforceDeadlines && typeof job.spec.activeDeadlineSeconds === "number")
      this.after(job.spec.activeDeadlineSeconds * 1000, job, () =>
        this.failJob(job, { reason: "DeadlineExceeded" }),
      );
    const start = this.options.startDelayMs;
    if (record) {
      if (start === 0) this.requestStart(record);
      else if (start !== "manual") this.after(start, job, () => this.requestStart(record));
    }
    return copy(job);
  }

  getJob(namespace: string, name: string): Obj {
    const job = this.jobs.get(key(namespace, name));
    if (!job) throw notFound(JOBS, name);
    return copy(job);
  }

  listJobs(namespace: string, labelSelector?: string): Obj {
    const matches = parseLabelSelector(labelSelector);
    const items = [...this.jobs.values()].filter(
      (job) => job.metadata.namespace === namespace && matches(job.metadata.labels ?? {}),
    );
    return this.list("JobList", "batch/v1", items);
  }

  /** Jobs default to orphaning their pods when no propagation policy is given, as batch/v1 always has. */
  deleteJob(namespace: string, name: string, propagationPolicy: string | undefined): Obj {
    const job = this.jobs.get(key(namespace, name));
    if (!job) throw notFound(JOBS, name);
    if (propagationPolicy && !["Background", "Foreground", "Orphan"].includes(propagationPolicy))
      throw badRequest(`unsupported propagationPolicy "${propagationPolicy}"`);
    this.forgetJob(job);
    const uid = job.metadata.uid;
    if ((propagationPolicy ?? "Orphan") === "Orphan") {
      for (const owned of [...[...this.pods.values()].map((r) => r.pod), ...this.secrets.values()])
        owned.metadata.ownerReferences = (owned.metadata.ownerReferences ?? []).filter(
          (o: Obj) => o.uid !== uid,
        );
    }
    this.collectGarbage();
    return successStatus({ name, group: "batch", kind: "jobs", uid });
  }

  // ------------------------------------------------------------------ API: pods

  listPods(namespace: string, labelSelector?: string): Obj {
    const matches = parseLabelSelector(labelSelector);
    const items = [...this.pods.values()]
      .map((r) => r.pod)
      .filter((pod) => pod.metadata.namespace === namespace && matches(pod.metadata.labels ?? {}));
    return this.list("PodList", "v1", items);
  }

  getPod(namespace: string, name: string): Obj {
    const record = this.pods.get(key(namespace, name));
    if (!record) throw notFound(PODS, name);
    return copy(record.pod);
  }

  /**
   * A patch of a pod, already applied to a copy by the server (JSON Patch or merge patch). The API server lets a
   * pod's update change little (ValidatePodUpdate): labels and annotations, and `spec.activeDeadlineSeconds` only
   * from unset to a value, or down to a smaller one, never below 0 and never back to unset; any other change to
   * the spec is refused, and a change to the status through the pod itself is dropped. The kubelet syncs an
   * updated pod at once: a started pod past its new deadline is killed then (see `killPastDeadline`).
   */
  patchPod(namespace: string, name: string, patch: (pod: Obj) => Obj): Obj {
    const record = this.pods.get(key(namespace, name));
    if (!record) throw notFound(PODS, name);
    const old = record.pod;
    const next = patch(copy(old));
    const causes = podUpdateProblems(next, old);
    if (causes.length > 0) throw invalid(PODS, name, causes);
    record.pod = {
      ...old,
      metadata: {
        ...old.metadata,
        labels: next.metadata?.labels ?? {},
        annotations: next.metadata?.annotations ?? {},
        resourceVersion: this.nextVersion(),
      },
      spec: next.spec,
    };
    this.killPastDeadline(record);
    return copy(record.pod);
  }

  /** A container's log; `tailLines` picks the last lines, then `limitBytes` cuts what is sent at that size. */
  podLog(
    namespace: string,
    name: string,
    query: { container?: string; tailLines?: string; limitBytes?: string; timestamps?: string },
  ): string {
    const record = this.pods.get(key(namespace, name));
    if (!record) throw notFound(PODS, name);
    const { pod } = record;
    const names: string[] = pod.spec.containers.map((c: Obj) => c.name);
    const initNames: string[] = (pod.spec.initContainers ?? []).map((c: Obj) => c.name);
    const container = query.container ?? (names.length === 1 ? names[0] : undefined);
    if (container === undefined)
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${names.join(" ")}] or one of the init containers: [${initNames.join(" ")}]`,
      );
    const status = [...(pod.status.initContainerStatuses ?? []), ...pod.status.containerStatuses].find(
      (s: Obj) => s.name === container,
    );
    if (!names.includes(container) && !initNames.includes(container))
      throw badRequest(`container ${container} is not valid for pod ${name}`);
    if (!status || status.state.waiting)
      throw badRequest(
        `container "${container}" in pod "${name}" is waiting to start: ${status?.state.waiting.reason ?? "PodInitializing"}`,
      );
    let log = record.logs.get(container) ?? "";
    if (query.timestamps === "true") log = stamped(log, record.lineTimes.get(container) ?? []);
    if (query.tailLines !== undefined) {
      const tail = Number(query.tailLines);
      if (!Number.isInteger(tail) || tail < 0) throw badRequest(`invalid tailLines "${query.tailLines}"`);
      log = lastLines(log, tail);
    }
    if (query.limitBytes !== undefined) {
      const limit = Number(query.limitBytes);
      if (!Number.isInteger(limit) || limit < 1)
        throw badRequest(`limitBytes: Invalid value: ${query.limitBytes}: must be greater than 0`);
      log = Buffer.from(log).subarray(0, limit).toString("utf8");
    }
    return log;
  }

  // ------------------------------------------------------------------ API: secrets

  createSecret(namespace: string, body: Obj): Obj {
    const name = String(body?.metadata?.name ?? "");
    const causes = validateSecret(body ?? {}, namespace);
    if (causes.length > 0) throw invalid(SECRETS, name, causes);
    if (this.secrets.has(key(namespace, name))) throw alreadyExists(SECRETS, name);
    const secret = copy(body);
    const data: Record<string, string> = { ...secret.data };
    for (const [k, v] of Object.entries(secret.stringData ?? {}))
      data[k] = Buffer.from(String(v)).toString("base64");
    delete secret.stringData;
    secret.type ??= "Opaque";
    secret.data = data;
    secret.metadata = {
      ...secret.metadata,
      namespace,
      uid: randomUUID(),
      resourceVersion: this.nextVersion(),
      creationTimestamp: timestamp(),
    };
    this.secrets.set(key(namespace, name), secret);
    const answer = copy(secret);
    this.collectGarbage();
    // The kubelet retries pods that were waiting for this Secret.
    for (const record of this.pods.values()) if (record.startRequested) this.startPod(record);
    return answer;
  }

  getSecret(namespace: string, name: string): Obj {
    const secret = this.secrets.get(key(namespace, name));
    if (!secret) throw notFound(SECRETS, name);
    return copy(secret);
  }

  listSecrets(namespace: string, labelSelector?: string): Obj {
    const matches = parseLabelSelector(labelSelector);
    const items = [...this.secrets.values()].filter(
      (s) => s.metadata.namespace === namespace && matches(s.metadata.labels ?? {}),
    );
    return this.list("SecretList", "v1", items);
  }

  deleteSecret(namespace: string, name: string): Obj {
    const secret = this.secrets.get(key(namespace, name));
    if (!secret) throw notFound(SECRETS, name);
    this.secrets.delete(key(namespace, name));
    return successStatus({ name, kind: "secrets", uid: secret.metadata.uid });
  }

  // ------------------------------------------------------------------ API: events

  /** Core/v1 Events; `fieldSelector` takes the fields the API server indexes events by (equality only). */
  listEvents(namespace: string, fieldSelector?: string): Obj {
    const matches = parseLabelSelector(fieldSelector);
    for (const term of fieldSelector ? fieldSelector.split(",") : []) {
      const field = term.trim().replace(/^!/, "").split(/!?==?/)[0] ?? "";
      if (!EVENT_FIELDS.includes(field))
        throw badRequest(`"${field}" is not a known field selector: only "${EVENT_FIELDS.join('", "')}"`);
    }
    const items = this.events.filter((event) => {
      if (event.metadata.namespace !== namespace) return false;
      const fields: Record<string, string> = {
        "metadata.name": event.metadata.name,
        "metadata.namespace": event.metadata.namespace,
        reason: event.reason,
        type: event.type,
        source: event.source?.component ?? "",
        reportingComponent: event.reportingComponent ?? "",
      };
      for (const [k, v] of Object.entries(event.involvedObject)) fields[`involvedObject.${k}`] = String(v);
      return matches(fields);
    });
    return this.list("EventList", "v1", items);
  }

  // ------------------------------------------------------------------ controls

  /**
   * A container of a Job's pod waits for a reason the kubelet reports (ErrImagePull, ImagePullBackOff,
   * InvalidImageName, CreateContainerConfigError): the pod stays Pending, the Job active and not ready.
   */
  containerWaiting(jobName: string, options: WaitingOptions): void {
    const job = this.runningJob(jobName);
    const record = this.podOf(job);
    if (!record) throw new Error(`Job ${jobName} has no pod`);
    const { pod } = record;
    const name = options.container ?? pod.spec.containers[0].name;
    const isInit = (pod.spec.initContainers ?? []).some((c: Obj) => c.name === name);
    const list = isInit ? "initContainerStatuses" : "containerStatuses";
    const specs: Obj[] = isInit ? pod.spec.initContainers : pod.spec.containers;
    const container = specs.find((c) => c.name === name);
    if (!container) throw new Error(`Job ${jobName}'s pod has no container ${name}`);
    pod.status.phase = "Pending";
    // The kubelet has taken the pod (it pulls its images): its active deadline counts from now.
    pod.status.startTime ??= timestamp();
    pod.status.conditions = [{ type: "PodScheduled", status: "True", lastTransitionTime: timestamp() }];
    pod.status[list] = specs.map((c) =>
      c.name === name
        ? waitingStatus(c, options.reason, options.message ?? defaultWaitingMessage(options.reason, c.image))
        : waitingStatus(c, "PodInitializing"),
    );
    if (isInit)
      pod.status.containerStatuses = pod.spec.containers.map((c: Obj) => waitingStatus(c, "PodInitializing"));
    pod.metadata.resourceVersion = this.nextVersion();
    job.status.ready = 0;
    job.metadata.resourceVersion = this.nextVersion();
  }

  /**
   * The first step of a Job's failure since Kubernetes 1.31: the controller decided (the pod failed, its node was
   * lost, a pod failure policy matched) but the pod is still terminating, so only FailureTarget is set; `fail`
   * later adds Failed. On a lost node the pod can stay terminating for minutes.
   */
  markFailureTarget(jobName: string, reason: string, message: string): void {
    const job = this.runningJob(jobName);
    job.status = {
      ...job.status,
      terminating: 1,
      conditions: [
        ...(job.status.conditions ?? []),
        condition("FailureTarget", reason, message, timestamp()),
      ],
    };
    job.metadata.resourceVersion = this.nextVersion();
  }

  /** The first step of a success since 1.31: the pod succeeded (outputs written), Complete follows with `complete`. */
  markSuccessCriteriaMet(jobName: string, options: CompleteOptions = {}): void {
    const job = this.runningJob(jobName);
    this.finishPod(this.startedPod(job), 0, "Completed", options);
    const message = "Reached expected number of succeeded pods";
    job.status = {
      ...job.status,
      active: 0,
      ready: 0,
      terminating: 0,
      succeeded: 1,
      conditions: [condition("SuccessCriteriaMet", "CompletionsReached", message, timestamp())],
    };
    job.metadata.resourceVersion = this.nextVersion();
  }

  /**
   * A drain or eviction: the pod fails with the DisruptionTarget condition. The Job controller applies the Job's
   * podFailurePolicy: a matching Ignore rule replaces the pod without counting the failure; otherwise the failure
   * counts, and with backoffLimit 0 the Job fails.
   */
  evict(jobName: string): void {
    const job = this.runningJob(jobName);
    const record = this.podOf(job);
    if (!record) throw new Error(`Job ${jobName} has no pod`);
    const { pod } = record;
    const now = timestamp();
    pod.status.phase = "Failed";
    pod.status.conditions = [
      {
        type: "DisruptionTarget",
        status: "True",
        reason: "EvictionByEvictionAPI",
        message: "Eviction API: evicting",
        lastTransitionTime: now,
      },
    ];
    pod.metadata.resourceVersion = this.nextVersion();
    // An eviction deletes the pod.
    this.pods.delete(key(pod.metadata.namespace, pod.metadata.name));
    this.onChange?.();
    this.podFailed(job, record);
  }

  /**
   * The Job controller seeing one of its pods fail: the first rule of the Job's podFailurePolicy that matches the
   * pod decides (onPodConditions on its conditions, onExitCodes on its containers' non-zero exit codes). Ignore
   * replaces the pod without counting the failure; FailJob fails the Job; otherwise the failure counts, and past
   * backoffLimit the Job fails. Pods that ended stay, with their logs, until the Job is deleted.
   */
  private podFailed(job: Obj, record: PodRecord): void {
    const { pod } = record;
    const action = podFailureAction(job.spec.podFailurePolicy, pod);
    if (action === "Ignore") {
      // Not counted: the controller replaces the pod.
      const replacement = this.createPod(job);
      job.status.active = replacement ? 1 : 0;
      job.status.ready = 0;
      if (replacement) this.requestStart(replacement);
      job.metadata.resourceVersion = this.nextVersion();
      return;
    }
    const failures = (job.status.failed ?? 0) + 1;
    job.status.failed = failures;
    if (action === "FailJob") this.failJob(job, { reason: "PodFailurePolicy" });
    else if (failures > (job.spec.backoffLimit ?? 6)) this.failJob(job, { reason: "BackoffLimitExceeded" });
    else {
      const replacement = this.createPod(job);
      job.status.active = replacement ? 1 : 0;
      if (replacement) this.requestStart(replacement);
      job.metadata.resourceVersion = this.nextVersion();
    }
  }

  /** The Events recorded so far, oldest first. */
  allEvents(): Obj[] {
    return this.events.map(copy);
  }

  /** Lets a Job's pod start (with `startDelayMs: "manual"`); it waits if a Secret it needs is missing. */
  start(jobName: string): void {
    const record = this.podOf(this.findJob(jobName));
    if (!record) throw new Error(`Job ${jobName} has no pod`);
    this.requestStart(record);
  }

  complete(jobName: string, options: CompleteOptions = {}): void {
    const job = this.runningJob(jobName);
    const record = this.startedPod(job);
    this.finishPod(record, 0, "Completed", options);
    const now = timestamp();
    job.status = {
      ...job.status,
      active: 0,
      ready: 0,
      succeeded: 1,
      completionTime: now,
      conditions: [
        condition(
          "SuccessCriteriaMet",
          "CompletionsReached",
          "Reached expected number of succeeded pods",
          now,
        ),
        condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", now),
      ],
    };
    this.finished(job);
  }

  fail(jobName: string, options: FailOptions): void {
    const job = this.runningJob(jobName);
    if (options.reason === "BackoffLimitExceeded" && options.initContainer !== undefined)
      this.failInitContainer(job, options.initContainer, options);
    else if (options.reason === "BackoffLimitExceeded") {
      const record = this.startedPod(job);
      this.finishPod(record, options.exitCode ?? 1, options.containerReason ?? "Error", options);
    }
    this.failJob(job, options);
  }

  /** Appends to the log of a container (an init container too) of a Job's pod; the task container by default. */
  writeLog(jobName: string, text: string, containerName?: string): void {
    const record = this.podOf(this.findJob(jobName));
    if (!record) throw new Error(`Job ${jobName} has no pod`);
    const container = containerName ?? record.pod.spec.containers[0].name;
    appendLog(record, container, text);
  }

  /** The env a container of a Job's pod sees (the task container by default). */
  envOf(jobName: string, containerName?: string): Record<string, string> {
    const job = this.findJob(jobName);
    const spec = this.podOf(job)?.pod.spec ?? job.spec.template.spec;
    const container = containerName
      ? [...spec.containers, ...(spec.initContainers ?? [])].find((c: Obj) => c.name === containerName)
      : spec.containers[0];
    if (!container) throw new Error(`Job ${jobName} has no container ${containerName}`);
    const env: Record<string, string> = {};
    for (const entry of container.env ?? []) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (ref) {
        const value = this.secrets.get(key(job.metadata.namespace, ref.name))?.data?.[ref.key];
        if (value === undefined) {
          if (ref.optional) continue;
          throw new Error(`Job ${jobName}: secret "${ref.name}" has no key ${ref.key}`);
        }
        env[entry.name] = Buffer.from(value, "base64").toString("utf8");
      } else if (entry.valueFrom === undefined) {
        env[entry.name] = expandEnvValue(entry.value ?? "", (name) => env[name]);
      }
    }
    return env;
  }

  findJob(name: string, namespace?: string): Obj {
    const found = [...this.jobs.values()].filter(
      (job) =>
        job.metadata.name === name && (namespace === undefined || job.metadata.namespace === namespace),
    );
    if (found.length === 0) throw new Error(`no Job named ${name}`);
    if (found.length > 1) throw new Error(`Jobs named ${name} in several namespaces; give the namespace`);
    return found[0];
  }

  allJobs(): Obj[] {
    return [...this.jobs.values()].map(copy);
  }

  allPods(): Obj[] {
    return [...this.pods.values()].map((r) => copy(r.pod));
  }

  allSecrets(): Obj[] {
    return [...this.secrets.values()].map(copy);
  }

  /** A Secret's values, decoded. */
  secretData(name: string, namespace?: string): Record<string, string> {
    const secret = [...this.secrets.values()].find(
      (s) => s.metadata.name === name && (namespace === undefined || s.metadata.namespace === namespace),
    );
    if (!secret) throw new Error(`no Secret named ${name}`);
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [
        k,
        Buffer.from(String(v), "base64").toString("utf8"),
      ]),
    );
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  // ------------------------------------------------------------------ the controllers

  /** The Job controller creating the Job's pod, or recording a FailedCreate event when admission refuses it. */
  private createPod(job: Obj): PodRecord | undefined {
    const name = `${job.metadata.name}-${this.suffix()}`;
    const template = copy(job.spec.template);
    const containers = template.spec.containers.map((c: Obj) => ({
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
      imagePullPolicy: "IfNotPresent",
      ...c,
    }));
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: job.metadata.namespace,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: timestamp(),
        labels: { ...template.metadata?.labels },
        annotations: { ...template.metadata?.annotations },
        ownerReferences: [
          {
            apiVersion: "batch/v1",
            kind: "Job",
            name: job.metadata.name,
            uid: job.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { ...template.spec, containers },
      status: {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: timestamp() }],
        containerStatuses: containers.map((c: Obj) => waitingStatus(c, "ContainerCreating")),
      },
    };
    const refusal = this.options.admitPod?.(pod);
    if (refusal !== undefined) {
      job.status.active = 0;
      this.recordEvent(
        job,
        "Warning",
        "FailedCreate",
        `Error creating: pods "${name}" is forbidden: ${refusal}`,
      );
      return undefined;
    }
    const record: PodRecord = { pod, logs: new Map(), lineTimes: new Map(), startRequested: false };
    this.pods.set(key(pod.metadata.namespace, name), record);
    this.recordEvent(job, "Normal", "SuccessfulCreate", `Created pod: ${name}`);
    return record;
  }

  private requestStart(record: PodRecord) {
    record.startRequested = true;
    this.startPod(record);
  }

  /** The kubelet: a container starts once every Secret its env needs is there. */
  private startPod(record: PodRecord): boolean {
    const { pod } = record;
    if (pod.status.phase !== "Pending") return pod.status.phase === "Running";
    const missing = this.missingSecret(pod);
    if (missing) {
      pod.status.containerStatuses = pod.spec.containers.map((c: Obj) =>
        waitingStatus(c, "CreateContainerConfigError", missing),
      );
      return false;
    }
    const now = timestamp();
    pod.status = {
      ...pod.status,
      phase: "Running",
      startTime: now,
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
        { type: "Ready", status: "True", lastTransitionTime: now },
      ],
      ...(pod.spec.initContainers && {
        initContainerStatuses: pod.spec.initContainers.map((c: Obj) => ({
          name: c.name,
          image: c.image,
          ready: true,
          started: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: "Completed", startedAt: now, finishedAt: now } },
        })),
      }),
      containerStatuses: pod.spec.containers.map((c: Obj) => ({
        name: c.name,
        image: c.image,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    };
    pod.metadata.resourceVersion = this.nextVersion();
    const job = this.ownerJob(pod);
    if (job) {
      job.status.ready = 1;
      this.scheduleAutoComplete(job);
      // The kubelet counts a pod's own deadline from its start.
      const deadline = pod.spec.activeDeadlineSeconds;
      if (typeof deadline === "number") this.after(deadline * 1000, job, () => this.killPastDeadline(record));
    }
    return true;
  }

  /**
   * The kubelet's active deadline: a started pod (status.startTime set) running past spec.activeDeadlineSeconds
   * fails with reason DeadlineExceeded, its running containers killed (137). The pod object and its logs stay,
   * as for any pod that ended; the Job controller then counts the failure.
   */
  private killPastDeadline(record: PodRecord): void {
    const { pod } = record;
    const deadline = pod.spec.activeDeadlineSeconds;
    if (typeof deadline !== "number" || !pod.status.startTime) return;
    if (pod.status.phase === "Succeeded" || pod.status.phase === "Failed") return;
    if (Date.parse(pod.status.startTime) + deadline * 1000 > Date.now()) return;
    const now = timestamp();
    const killed = (status: Obj) =>
      status.state?.running
        ? {
            ...status,
            ready: false,
            started: false,
            state: {
              terminated: {
                exitCode: 137,
                reason: "Error",
                startedAt: status.state.running.startedAt,
                finishedAt: now,
                containerID: `containerd://${randomUUID().replace(/-/g, "")}`,
              },
            },
          }
        : status;
    pod.status = {
      ...pod.status,
      phase: "Failed",
      reason: "DeadlineExceeded",
      message: "Pod was active on the node longer than the specified deadline",
      conditions: [{ type: "Ready", status: "False", reason: "PodFailed", lastTransitionTime: now }],
      ...(pod.status.initContainerStatuses && {
        initContainerStatuses: pod.status.initContainerStatuses.map(killed),
      }),
      containerStatuses: (pod.status.containerStatuses ?? []).map(killed),
    };
    pod.metadata.resourceVersion = this.nextVersion();
    const job = this.ownerJob(pod);
    if (job && this.isRunning(job)) this.podFailed(job, record);
  }

  private missingSecret(pod: Obj): string | undefined {
    for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers])
      for (const entry of container.env ?? []) {
        const ref = entry.valueFrom?.secretKeyRef;
        if (!ref || ref.optional) continue;
        const secret = this.secrets.get(key(pod.metadata.namespace, ref.name));
        if (!secret) return `secret "${ref.name}" not found`;
        if (secret.data?.[ref.key] === undefined)
          return `couldn't find key ${ref.key} in Secret ${pod.metadata.namespace}/${ref.name}`;
      }
    return undefined;
  }

  private scheduleAutoComplete(job: Obj) {
    const play = this.options.autoComplete;
    if (!play) return;
    this.after(this.options.autoCompleteDelayMs, job, async () => {
      let outcome: AutoOutcome | undefined;
      try {
        outcome = await play(this.viewOf(job));
      } catch (error) {
        this.autoCompleteErrors.push(error);
        outcome = { fail: {}, log: `autoComplete threw: ${String(error)}\n` };
      }
      if (!outcome || !this.isRunning(job)) return;
      const name = job.metadata.name;
      if (outcome.fail)
        this.fail(name, {
          reason: outcome.fail.reason ?? "BackoffLimitExceeded",
          ...(outcome.fail.exitCode !== undefined && { exitCode: outcome.fail.exitCode }),
          ...(outcome.fail.containerReason !== undefined && {
            containerReason: outcome.fail.containerReason,
          }),
          ...pickOutputs(outcome),
        });
      else this.complete(name, pickOutputs(outcome));
    });
  }

  private viewOf(job: Obj): FakeJobView {
    return {
      name: job.metadata.name,
      namespace: job.metadata.namespace,
      uid: job.metadata.uid,
      labels: { ...job.metadata.labels },
      annotations: { ...job.metadata.annotations },
      manifest: copy(job),
      env: this.envOf(job.metadata.name, undefined),
    };
  }

  /** The kubelet running init containers in order: those before `name` succeed, `name` fails, the rest never run. */
  private failInitContainer(job: Obj, name: string, options: FailOptions) {
    const record = this.podOf(job);
    if (!record) throw new Error(`Job ${job.metadata.name} has no pod`);
    const { pod } = record;
    const inits: Obj[] = pod.spec.initContainers ?? [];
    const index = inits.findIndex((c) => c.name === name);
    if (index < 0) throw new Error(`Job ${job.metadata.name} has no init container ${name}`);
    if (options.log !== undefined) appendLog(record, name, options.log);
    const now = timestamp();
    const terminated = (exitCode: number, reason: string) => ({
      terminated: {
        exitCode,
        reason,
        startedAt: now,
        finishedAt: now,
        containerID: `containerd://${randomUUID()}`,
      },
    });
    pod.status.phase = "Failed";
    pod.status.initContainerStatuses = inits.map((c, i) => ({
      name: c.name,
      image: c.image,
      ready: false,
      started: false,
      restartCount: 0,
      state:
        i < index
          ? terminated(0, "Completed")
          : i === index
            ? terminated(options.exitCode ?? 1, options.containerReason ?? "Error")
            : { waiting: { reason: "PodInitializing" } },
    }));
    pod.status.containerStatuses = pod.spec.containers.map((c: Obj) => waitingStatus(c, "PodInitializing"));
    pod.metadata.resourceVersion = this.nextVersion();
  }

  /** The kubelet writing a terminated container's status, with the termination message rules it applies. */
  private finishPod(record: PodRecord, exitCode: number, reason: string, options: CompleteOptions) {
    const { pod } = record;
    const task = pod.spec.containers[0];
    if (options.log !== undefined) appendLog(record, task.name, options.log);
    let message = options.terminationMessage ?? "";
    if (message === "" && exitCode !== 0 && task.terminationMessagePolicy === "FallbackToLogsOnError")
      message = fallbackFromLog(record.logs.get(task.name) ?? "");
    message = Buffer.from(message).subarray(0, TERMINATION_MESSAGE_MAX_BYTES).toString("utf8");
    const now = timestamp();
    pod.status.phase = exitCode === 0 ? "Succeeded" : "Failed";
    pod.status.conditions = [
      { type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: now },
    ];
    pod.status.containerStatuses = pod.spec.containers.map((c: Obj, i: number) => ({
      name: c.name,
      image: c.image,
      ready: false,
      started: false,
      restartCount: 0,
      state: {
        terminated: {
          exitCode: i === 0 ? exitCode : 0,
          reason: i === 0 ? reason : "Completed",
          ...(i === 0 && message !== "" && { message }),
          startedAt: pod.status.startTime ?? now,
          finishedAt: now,
          containerID: `containerd://${randomUUID().replace(/-/g, "")}`,
        },
      },
    }));
    pod.metadata.resourceVersion = this.nextVersion();
  }

  private failJob(job: Obj, options: { reason: FailReason }) {
    if (!this.isRunning(job)) return;
    const now = timestamp();
    const message =
      options.reason === "DeadlineExceeded"
        ? "Job was active longer than specified deadline"
        : options.reason === "PodFailurePolicy"
          ? "Pod failed and matched a FailJob rule of the pod failure policy"
          : "Job has reached the specified backoff limit";
    // Past its deadline, the Job controller deletes the Job's running pods.
    if (options.reason === "DeadlineExceeded")
      for (const [k, record] of this.pods)
        if (isOwnedBy(record.pod, job.metadata.uid) && record.pod.status.phase !== "Succeeded")
          this.pods.delete(k);
    this.onChange?.();
    job.status = {
      ...job.status,
      active: 0,
      ready: 0,
      failed: 1,
      conditions: [
        condition("FailureTarget", options.reason, message, now),
        condition("Failed", options.reason, message, now),
      ],
    };
    this.finished(job);
  }

  private finished(job: Obj) {
    job.metadata.resourceVersion = this.nextVersion();
    this.forgetJob(job, false);
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (typeof ttl === "number" && ttl * 1000 < 2 ** 31 - 1)
      this.after(ttl * 1000, job, () => {
        if (this.jobs.get(key(job.metadata.namespace, job.metadata.name)) === job)
          this.deleteJob(job.metadata.namespace, job.metadata.name, "Background");
      });
  }

  /** Cancels a Job's pending timers; removes the Job too unless `remove` is false. */
  private forgetJob(job: Obj, remove = true) {
    for (const timer of this.jobTimers.get(job.metadata.uid) ?? []) {
      clearTimeout(timer);
      this.timers.delete(timer);
    }
    this.jobTimers.delete(job.metadata.uid);
    if (remove) this.jobs.delete(key(job.metadata.namespace, job.metadata.name));
    this.onChange?.();
  }

  /** The garbage collector: an object whose owners are all gone (by uid) goes too. */
  private collectGarbage() {
    const uids = new Set([...this.jobs.values()].map((job) => job.metadata.uid));
    const orphaned = (object: Obj) => {
      const owners: Obj[] = object.metadata.ownerReferences ?? [];
      return owners.length > 0 && owners.every((o) => !uids.has(o.uid));
    };
    for (const [k, record] of this.pods) if (orphaned(record.pod)) this.pods.delete(k);
    for (const [k, secret] of this.secrets) if (orphaned(secret)) this.secrets.delete(k);
    this.onChange?.();
  }

  private recordEvent(job: Obj, type: "Normal" | "Warning", reason: string, message: string) {
    const now = timestamp();
    this.events.push({
      apiVersion: "v1",
      kind: "Event",
      metadata: {
        name: `${job.metadata.name}.${randomUUID().replace(/-/g, "").slice(0, 16)}`,
        namespace: job.metadata.namespace,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: now,
      },
      involvedObject: {
        apiVersion: "batch/v1",
        kind: "Job",
        name: job.metadata.name,
        namespace: job.metadata.namespace,
        uid: job.metadata.uid,
        resourceVersion: job.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component: "job-controller" },
      reportingComponent: "job-controller",
      reportingInstance: "",
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }

  private runningJob(name: string): Obj {
    const job = this.findJob(name);
    if (!this.isRunning(job)) throw new Error(`Job ${name} has already finished`);
    return job;
  }

  private isRunning(job: Obj): boolean {
    const current = this.jobs.get(key(job.metadata.namespace, job.metadata.name));
    return (
      current === job &&
      !(job.status.conditions ?? []).some((c: Obj) => c.type === "Complete" || c.type === "Failed")
    );
  }

  /** The Job's pod, started now if it had not been; a pod that cannot start cannot finish either. */
  private startedPod(job: Obj): PodRecord {
    const record = this.podOf(job);
    if (!record) throw new Error(`Job ${job.metadata.name} has no pod`);
    record.startRequested = true;
    if (!this.startPod(record))
      throw new Error(
        `the pod of Job ${job.metadata.name} cannot start: ${record.pod.status.containerStatuses[0]?.state?.waiting?.message}`,
      );
    return record;
  }

  /** The Job's pod that runs (or will), else its newest: a pod that ended stays beside its replacement. */
  private podOf(job: Obj): PodRecord | undefined {
    const owned = [...this.pods.values()].filter((r) => isOwnedBy(r.pod, job.metadata.uid));
    const ended = (r: PodRecord) => r.pod.status.phase === "Succeeded" || r.pod.status.phase === "Failed";
    return owned.find((r) => !ended(r)) ?? owned.at(-1);
  }

  private ownerJob(pod: Obj): Obj | undefined {
    const uid = pod.metadata.ownerReferences?.[0]?.uid;
    return [...this.jobs.values()].find((job) => job.metadata.uid === uid);
  }

  private after(ms: number, job: Obj, action: () => void | Promise<void>) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void action();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    const list = this.jobTimers.get(job.metadata.uid) ?? [];
    list.push(timer);
    this.jobTimers.set(job.metadata.uid, list);
  }

  private list(kind: string, apiVersion: string, items: Obj[]) {
    return {
      kind,
      apiVersion,
      metadata: { resourceVersion: String(this.resourceVersion) },
      items: items.map(copy),
    };
  }

  /** The latest resourceVersion given out. */
  currentVersion(): number {
    return this.resourceVersion;
  }

  /** The next resourceVersion, as the API server's etcd revision: one counter for every object. */
  nextVersion(): string {
    this.onChange?.();
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  private suffix(): string {
    let n = this.podCount++;
    let out = "";
    for (let i = 0; i < 5; i++) {
      out += NAME_SUFFIX_ALPHABET[n % NAME_SUFFIX_ALPHABET.length];
      n = Math.floor(n / NAME_SUFFIX_ALPHABET.length);
    }
    return out;
  }
}

/** The fields the API server lets core/v1 events be selected by. */
const EVENT_FIELDS = [
  "metadata.name",
  "metadata.namespace",
  "reason",
  "type",
  "source",
  "reportingComponent",
  "involvedObject.fieldPath",
  "involvedObject.kind",
  "involvedObject.name",
  "involvedObject.namespace",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
];

function defaultWaitingMessage(reason: WaitingReason, image: string): string | undefined {
  switch (reason) {
    case "ErrImagePull":
      return `failed to pull and unpack image "${image}": not found`;
    case "ImagePullBackOff":
      return `Back-off pulling image "${image}"`;
    case "InvalidImageName":
      return `Failed to apply default image tag "${image}": couldn't parse image name "${image}": invalid reference format`;
    default:
      return undefined;
  }
}

function condition(type: string, reason: string, message: string, now: string) {
  return { type, status: "True", reason, message, lastProbeTime: now, lastTransitionTime: now };
}

function waitingStatus(container: Obj, reason: string, message?: string) {
  return {
    name: container.name,
    image: container.image,
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason, ...(message && { message }) } },
  };
}

function isOwnedBy(object: Obj, uid: string): boolean {
  return (object.metadata.ownerReferences ?? []).some((o: Obj) => o.uid === uid);
}

function pickOutputs(outcome: CompleteOptions): CompleteOptions {
  return {
    ...(outcome.terminationMessage !== undefined && { terminationMessage: outcome.terminationMessage }),
    ...(outcome.log !== undefined && { log: outcome.log }),
  };
}

/** The last `count` lines, keeping a final newline as the API server does. */
export function lastLines(text: string, count: number): string {
  if (count === 0 || text === "") return "";
  const newline = text.endsWith("\n");
  const lines = (newline ? text.slice(0, -1) : text).split("\n");
  return lines.slice(-count).join("\n") + (newline ? "\n" : "");
}

/** FallbackToLogsOnError: the log's last 80 lines or 2048 bytes, whichever is smaller. */
function fallbackFromLog(log: string): string {
  const tail = lastLines(log, FALLBACK_LOG_MAX_LINES);
  const bytes = Buffer.from(tail);
  return bytes.length <= FALLBACK_LOG_MAX_BYTES
    ? tail
    : bytes.subarray(-FALLBACK_LOG_MAX_BYTES).toString("utf8");
}

/** What a Job's podFailurePolicy does with a failed pod: the action of the first rule that matches, else Count. */
function podFailureAction(policy: Obj, pod: Obj): string {
  const failedCodes = (name?: string) =>
    [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])]
      .filter((s: Obj) => name === undefined || s.name === name)
      .map((s: Obj) => s.state?.terminated?.exitCode)
      .filter((code: unknown): code is number => typeof code === "number" && code !== 0);
  for (const rule of policy?.rules ?? []) {
    const byCondition = (rule.onPodConditions ?? []).some((p: Obj) =>
      (pod.status.conditions ?? []).some((c: Obj) => c.type === p.type && c.status === (p.status ?? "True")),
    );
    const codes = rule.onExitCodes;
    const byExitCode =
      codes !== undefined &&
      failedCodes(codes.containerName).some((code: number) =>
        codes.operator === "In" ? codes.values.includes(code) : !codes.values.includes(code),
      );
    if (byCondition || byExitCode) return rule.action;
  }
  return "Count";
}

/**
 * What the API server refuses in a pod's update (ValidatePodUpdate): a spec change other than
 * activeDeadlineSeconds (and images), and a deadline that is negative, raised, or removed.
 */
function podUpdateProblems(next: Obj, old: Obj): Cause[] {
  const field = "spec.activeDeadlineSeconds";
  const value = next.spec?.activeDeadlineSeconds;
  const before = old.spec.activeDeadlineSeconds;
  if (value === undefined || value === null) {
    if (before !== undefined)
      return [
        {
          field,
          reason: "FieldValueInvalid",
          message: "must not update from a positive integer to nil value",
        },
      ];
  } else if (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1)
    return [
      {
        field,
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: must be between 0 and 2147483647, inclusive`,
      },
    ];
  else if (before !== undefined && value > before)
    return [
      {
        field,
        reason: "FieldValueInvalid",
        message: `Invalid value: ${value}: must be less than or equal to previous value`,
      },
    ];
  const comparable = (spec: Obj) => {
    const { activeDeadlineSeconds: _deadline, ...rest } = spec ?? {};
    const withoutImages = (list: Obj[] | undefined) => list?.map(({ image: _image, ...c }: Obj) => c);
    return JSON.stringify({
      ...rest,
      containers: withoutImages(rest.containers),
      initContainers: withoutImages(rest.initContainers),
    });
  };
  if (comparable(next.spec) !== comparable(old.spec))
    return [
      {
        field: "spec",
        reason: "FieldValueForbidden",
        message:
          "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
      },
    ];
  if (next.metadata?.name !== old.metadata.name || next.metadata?.uid !== old.metadata.uid)
    return [{ field: "metadata.name", reason: "FieldValueInvalid", message: "field is immutable" }];
  return [];
}
