import type { CoreV1Event, V1Job, V1Pod, V1Secret, V1SelfSubjectAccessReview } from "@kubernetes/client-node";

/**
 * A Kubernetes object as a client hands it over. hookflow's own client (http-client.ts) gives the API's JSON, where
 * a time is an RFC 3339 string; @kubernetes/client-node turns the same fields into Dates, and its watches give the
 * JSON. Code that reads a time takes both (`new Date(value)`), which this type makes the compiler hold it to. The
 * field names are the API's with either client: client-node renames only fields hookflow does not read
 * (`metadata.continue` of a list).
 */
export type Wire<T> = T extends Date
  ? Date | string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** What `readPodLog` asks for: one container's log, the newest `tailLines`, cut at `limitBytes`. */
export interface PodLogQuery {
  container: string;
  tailLines?: number;
  limitBytes?: number;
  /** Each line starts with its RFC 3339 time. */
  timestamps?: boolean;
}

/** One JSON Patch operation (RFC 6902). */
export interface JsonPatchOperation {
  op: "add" | "replace" | "remove";
  path: string;
  value?: unknown;
}

/**
 * The Kubernetes API calls hookflow makes, in one namespace at a time, whichever client makes them: the runner,
 * the relay's judgements and the doctor know only this. A refusal is a KubernetesHttpError and a request without
 * an answer a KubernetesTransportError, with either client (api-call.ts sorts them into retried and permanent).
 */
export interface KubernetesApis {
  createJob(namespace: string, job: V1Job): Promise<Wire<V1Job>>;
  readJob(namespace: string, name: string): Promise<Wire<V1Job>>;
  /** Background propagation: the Job goes now, its pods and Secret right after, by the garbage collector. */
  deleteJob(namespace: string, name: string): Promise<void>;
  createSecret(namespace: string, secret: V1Secret): Promise<void>;
  listPods(namespace: string, labelSelector: string): Promise<Wire<V1Pod>[]>;
  patchPod(namespace: string, name: string, patch: JsonPatchOperation[]): Promise<void>;
  readPodLog(namespace: string, name: string, query: PodLogQuery): Promise<string>;
  listEvents(namespace: string, fieldSelector: string): Promise<Wire<CoreV1Event>[]>;
  /** Whether the caller may do what the review's `spec.resourceAttributes` say (every identity may ask). */
  reviewAccess(review: V1SelfSubjectAccessReview): Promise<Wire<V1SelfSubjectAccessReview>>;
}

/** The API answered with a status other than 2xx: its code, its body (a Status, as text), its headers. */
export class KubernetesHttpError extends Error {
  override name = "KubernetesHttpError";
  constructor(
    readonly code: number,
    readonly body: unknown,
    /** Names in lower case. */
    readonly headers: Record<string, string>,
    options?: ErrorOptions,
  ) {
    super(`HTTP ${code}`, options);
  }
}

/** No answer: the connection could not be made or was dropped, or the request took longer than its limit. */
export class KubernetesTransportError extends Error {
  override name = "KubernetesTransportError";
  constructor(
    message: string,
    readonly timedOut: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
