import { PermanentError, RetryableError } from "../../errors.js";
import { KubernetesHttpError, KubernetesTransportError } from "./apis.js";

/** How long one API call may take, and how long to keep retrying one that fails for a transient reason. */
export interface CallPolicy {
  /** Total time spent retrying one call before giving up with RetryableError (SQS redelivers later). */
  retryBudgetMs: number;
  /** One request's limit; a hanging API server must not hang the handler. */
  requestTimeoutMs: number;
  /** The first retry's delay; doubled for each further retry, up to `maxDelayMs`, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_CALL_POLICY: CallPolicy = {
  retryBudgetMs: 10_000,
  requestTimeoutMs: 5_000,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
};

/**
 * The API refused a request for a reason that retrying will not change (4xx other than 408 and 429). Carries the
 * HTTP code and the Status reason so that callers can treat 404 and 409 as the answers they expect.
 */
export class KubernetesRejection extends PermanentError {
  override name = "KubernetesRejection";
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The API server says who the caller is not; what hookflow can say is where its identity comes from. */
const UNAUTHORIZED_HINT =
  ": the cluster does not accept hookflow's credentials: the kubeconfig's token was revoked or has expired, or on EKS (HOOKFLOW_EKS_CLUSTER) the function's IAM role has no access entry in that cluster";

/** A request that got no answer within the policy's `requestTimeoutMs`. */
class RequestTimeout extends Error {
  override name = "RequestTimeout";
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

interface Failure {
  transient: boolean;
  code?: number;
  reason?: string;
  message: string;
  retryAfterMs?: number;
}

/**
 * Runs one Kubernetes API call (`what` says which, for messages: `create Job "x"`). Transient failures (5xx,
 * 429, 408, timeouts, dropped connections) are retried with exponential backoff and jitter while the budget
 * lasts, then reported as RetryableError; a refusal is KubernetesRejection (a PermanentError) carrying the API's
 * own message. Anything else is a bug and is thrown as it is.
 */
export async function callKubernetes<T>(
  what: string,
  call: () => Promise<T>,
  policy: CallPolicy,
): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(call(), policy.requestTimeoutMs + ABORT_GRACE_MS);
    } catch (error) {
      const failure = classify(error);
      if (!failure) throw error;
      if (!failure.transient)
        throw new KubernetesRejection(
          `Kubernetes refused to ${what}: ${failure.message} (${failure.code})${failure.code === 403 ? forbiddenHint(failure.message) : failure.code === 401 ? UNAUTHORIZED_HINT : ""}`,
          failure.code ?? 0,
          failure.reason,
          { cause: error },
        );
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const wait = Math.max(backoff / 2 + (Math.random() * backoff) / 2, failure.retryAfterMs ?? 0);
      const elapsed = Date.now() - started;
      if (elapsed + wait > policy.retryBudgetMs) {
        const last = failure.code ? `${failure.message} (${failure.code})` : failure.message;
        throw new RetryableError(
          `could not ${what}: the Kubernetes API kept failing for ${elapsed} ms (${attempt} attempts), last with: ${last}`,
          failure.retryAfterMs === undefined ? undefined : Math.ceil(failure.retryAfterMs / 1000),
          { cause: error },
        );
      }
      await delay(wait);
    }
  }
}

/**
 * What to fix for a 403, from the authorizer's words (`User "u" cannot list resource "pods" in API group "" in
 * the namespace "ns"`): the verb and resource to grant, and to whom.
 */
function forbiddenHint(message: string): string {
  const denied =
    /User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/.exec(
      message,
    );
  if (!denied)
    return "; the kubeconfig's credentials lack a right this call needs (see infra/kubernetes/scheduler.yaml)";
  const [, user, verb, resource, group, namespace] = denied;
  return `; to fix: grant the verb "${verb}" on resource "${resource}" (API group "${group}")${namespace ? ` in namespace "${namespace}"` : ""} to ${user}, in its Role (the rules hookflow needs: infra/kubernetes/scheduler.yaml)`;
}

function classify(error: unknown): Failure | undefined {
  if (error instanceof KubernetesHttpError) {
    const code = error.code;
    const status = statusOf(error.body);
    const transient = code >= 500 || code === 429 || code === 408;
    const retryAfter = Number(error.headers["retry-after"]);
    return {
      transient,
      code,
      reason: status.reason,
      message: status.message ?? `HTTP ${code}`,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 && { retryAfterMs: retryAfter * 1000 }),
    };
  }
  if (error instanceof RequestTimeout || (error instanceof KubernetesTransportError && error.timedOut))
    return { transient: true, message: "the request timed out" };
  if (error instanceof KubernetesTransportError) return { transient: true, message: error.message };
  return undefined;
}

/** The Status object Kubernetes answers errors with; the clients hand its body over as unparsed text. */
function statusOf(body: unknown): { message?: string; reason?: string } {
  let value = body;
  const text = Buffer.isBuffer(body) ? body.toString("utf8") : typeof body === "string" ? body : undefined;
  if (text !== undefined) {
    try {
      value = JSON.parse(text);
    } catch {
      return text.trim() === "" ? {} : { message: text.trim().slice(0, 512) };
    }
  }
  if (value === null || typeof value !== "object") return {};
  const { message, reason } = value as { message?: unknown; reason?: unknown };
  return {
    ...(typeof message === "string" && { message }),
    ...(typeof reason === "string" && { reason }),
  };
}

/** How long after its abort signal fired a request may take to fail on its own before it is abandoned. */
const ABORT_GRACE_MS = 250;

/**
 * A backstop for a call whose transport ignores its abort signal: the signal set by the client's timeout
 * middleware is what normally ends a request, and closes its connection.
 */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // The call's own late failure must not surface as an unhandled rejection once the timeout has won.
  promise.catch(() => {});
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeout(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
