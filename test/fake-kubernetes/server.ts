import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import {
  type ClusterOptions,
  type CompleteOptions,
  type FailOptions,
  FakeCluster,
  type PodAdmission,
  type WaitingOptions,
} from "./cluster.js";
import { type EksAuthentication, eksTokenProblem } from "./eks.js";
import {
  type Authorization,
  allowed,
  attributesOf,
  authorize,
  type Identity,
  serviceAccountIdentity,
} from "./rbac.js";
import { loadSchema } from "./schema.js";
import { ApiError, badRequest, failureStatus } from "./status.js";
import { WatchFeed } from "./watch.js";

export interface FakeKubernetesOptions extends Partial<ClusterOptions> {
  /** The bearer token the kubeconfig carries and the server requires (without `authorization`). */
  token?: string;
  /**
   * RBAC: only the listed ServiceAccounts' tokens are accepted, each allowed what its bound Roles grant. Without
   * it, `token` may do anything.
   */
  authorization?: Authorization;
  /**
   * EKS IAM authentication: a `k8s-aws-v1.` token is accepted only when it verifies (eks.ts), as the identity
   * an access entry maps it to (authorized by `authorization`'s bindings when given, else allowed everything).
   */
  eks?: EksAuthentication;
  /** The kubeconfig context's namespace. */
  namespace?: string;
  /**
   * Serve https: with test/fixtures/tls (the server's certificate is for 127.0.0.1 and fake-kubernetes.test,
   * signed by `ca.pem`), and take a client certificate that CA signed as its CN (user) and O (groups).
   */
  tls?: boolean;
}

/** Where the fake's TLS material is (see its README). */
const TLS = join(import.meta.dirname, "..", "fixtures", "tls");
const tlsFile = (name: string) => readFileSync(join(TLS, name));

/** How a kubeconfig reaches a TLS fake: whose CA it trusts, the name it checks, a client certificate. */
export interface TlsKubeconfig {
  /** "other": a CA that did not sign the server's certificate. Default: the fake's own. */
  ca?: "own" | "other";
  /** `tls-server-name`. */
  serverName?: string;
  /** Sign in with test/fixtures/tls/client.pem instead of a token. */
  clientCertificate?: boolean;
}

/** A fault the server plays on matching requests, `times` times (default 1; Infinity for ever). */
export interface Fault {
  method?: string;
  /** Matched against the path with its query string: "/jobs", "/log?tailLines", "labelSelector=". */
  pathIncludes?: string;
  /** Answer with this code and a Status; without it (and without dropConnection) answer normally. */
  status?: number;
  reason?: string;
  message?: string;
  /** Wait this long before answering (or dropping). */
  delayMs?: number;
  retryAfterSeconds?: number;
  /** Close the connection without answering. */
  dropConnection?: boolean;
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** Without the query string. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON, or the text when it is not JSON; undefined without a body. */
  body: unknown;
  rawBody: string;
  contentType: string | undefined;
  /** Which client sent it (its User-Agent). */
  userAgent: string | undefined;
  /** The answer was gzipped: the client accepts it and the answer is large (see `send`). */
  compressed?: boolean;
  /** When it arrived (performance.now()). */
  at: number;
  /** Who sent it, once authenticated (a ServiceAccount's or an EKS identity's user name). */
  user?: string;
  /** The answer's status code; 0 for a dropped connection, undefined while unanswered. */
  status?: number;
  /** The client hung up before the answer (a client-side timeout). */
  abandoned?: boolean;
  fault?: Fault;
}

interface Answer {
  status: number;
  body: unknown;
  contentType?: string;
}

const JOBS = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+)(\/status)?)?$/;
const PODS = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(\/log)?)?$/;
const SECRETS = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/;
const EVENTS = /^\/api\/v1\/namespaces\/([^/]+)\/events$/;

/**
 * A Kubernetes API server for tests, on 127.0.0.1, that the real @kubernetes/client-node talks to through
 * `kubeconfig`. It keeps Jobs, pods and Secrets with the semantics a runner relies on (see FakeCluster),
 * records every request, and plays injected faults.
 */
export class FakeKubernetes {
  readonly requests: RecordedRequest[] = [];
  /** Bugs of the fake itself (answered with 500), for tests to assert empty. */
  readonly serverErrors: unknown[] = [];
  /** Every EKS token presented, and why it was refused (none: accepted). */
  readonly eksVerdicts: Array<{ token: string; problem?: string }> = [];
  readonly cluster: FakeCluster;
  /** Watches of Jobs and pods (`?watch=true`), with history that `expireWatchHistory()` forgets. */
  readonly watches: WatchFeed;
  private readonly faults: Array<Fault & { remaining: number }> = [];
  private readonly delays = new Set<NodeJS.Timeout>();
  private url_ = "";

  private constructor(
    private readonly server: Server,
    private readonly token: string,
    private readonly namespace: string,
    clusterOptions: ClusterOptions,
    private readonly authorization?: Authorization,
    private readonly eks?: EksAuthentication,
  ) {
    this.cluster = new FakeCluster(clusterOptions);
    this.watches = new WatchFeed(this.cluster);
  }

  static async start(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
    loadSchema();
    const server = options.tls
      ? createTlsServer({
          key: tlsFile("server-key.pem"),
          cert: tlsFile("server.pem"),
          ca: tlsFile("ca.pem"),
          requestCert: true,
          rejectUnauthorized: false,
        })
      : createServer();
    const fake = new FakeKubernetes(
      server,
      options.token ?? "fake-token",
      options.namespace ?? "default",
      {
        startDelayMs: options.startDelayMs ?? 0,
        autoCompleteDelayMs: options.autoCompleteDelayMs ?? 5,
        enforceDeadlines: options.enforceDeadlines ?? true,
        ...(options.autoComplete && { autoComplete: options.autoComplete }),
        ...(options.admitPod && { admitPod: options.admitPod }),
      },
      options.authorization,
      options.eks,
    );
    server.on("request", (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fake.url_ = `${options.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  get url(): string {
    return this.url_;
  }

  /** A kubeconfig for this server: plain HTTP (which client-node allows only with insecure-skip-tls-verify). */
  get kubeconfig(): string {
    return this.kubeconfigWith(this.token);
  }

  /** The CA of a TLS fake, base64 (as `certificate-authority-data`, or EKS's `certificateAuthority.data`). */
  get caData(): string {
    return tlsFile("ca.pem").toString("base64");
  }

  /**
   * A kubeconfig carrying another bearer token (one of `authorization.serviceAccounts`); none without one. A TLS
   * fake's names its CA (see TlsKubeconfig).
   */
  kubeconfigWith(token: string | undefined, tls: TlsKubeconfig = {}): string {
    const cluster = this.url.startsWith("https:")
      ? {
          server: this.url,
          "certificate-authority-data": tlsFile(tls.ca === "other" ? "other-ca.pem" : "ca.pem").toString(
            "base64",
          ),
          ...(tls.serverName && { "tls-server-name": tls.serverName }),
        }
      : { server: this.url, "insecure-skip-tls-verify": true };
    const user = {
      ...(token !== undefined && { token }),
      ...(tls.clientCertificate && {
        "client-certificate-data": tlsFile("client.pem").toString("base64"),
        "client-key-data": tlsFile("client-key.pem").toString("base64"),
      }),
    };
    return stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fake", cluster }],
      users: [{ name: "fake", user }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "fake", namespace: this.namespace } }],
      "current-context": "fake",
    });
  }

  injectFault(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Requests whose method and path match, e.g. `requestsTo("POST", "/jobs")`. */
  requestsTo(method: string, pathIncludes = ""): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathIncludes));
  }

  // Controls, delegated to the cluster so that tests read `fake.complete(job)`.
  start = (jobName: string) => this.cluster.start(jobName);
  complete = (jobName: string, options?: CompleteOptions) => this.cluster.complete(jobName, options);
  fail = (jobName: string, options: FailOptions) => this.cluster.fail(jobName, options);
  writeLog = (jobName: string, text: string, container?: string) =>
    this.cluster.writeLog(jobName, text, container);
  containerWaiting = (jobName: string, options: WaitingOptions) =>
    this.cluster.containerWaiting(jobName, options);
  markFailureTarget = (jobName: string, reason: string, message: string) =>
    this.cluster.markFailureTarget(jobName, reason, message);
  markSuccessCriteriaMet = (jobName: string, options?: CompleteOptions) =>
    this.cluster.markSuccessCriteriaMet(jobName, options);
  evict = (jobName: string) => this.cluster.evict(jobName);
  setPodAdmission = (admit: PodAdmission | undefined) => this.cluster.setPodAdmission(admit);
  events = () => this.cluster.allEvents();
  envOf = (jobName: string, container?: string) => this.cluster.envOf(jobName, container);
  job = (name: string, namespace?: string) => this.cluster.findJob(name, namespace);
  jobs = () => this.cluster.allJobs();
  pods = () => this.cluster.allPods();
  secrets = () => this.cluster.allSecrets();
  secretData = (name: string, namespace?: string) => this.cluster.secretData(name, namespace);

  /** A watch resuming from before now is answered 410 Gone (as after etcd's compaction). */
  expireWatchHistory = () => this.watches.expire();
  /** Ends every open watch, as when a watch's timeout passes; clients watch again from where they were. */
  closeWatches = () => this.watches.closeAll();

  async close(): Promise<void> {
    this.watches.closeAll();
    this.cluster.close();
    for (const timer of this.delays) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const at = performance.now();
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const contentType = req.headers["content-type"];
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: parseBody(rawBody),
      rawBody,
      contentType,
      userAgent: req.headers["user-agent"],
      ...(/\bgzip\b/.test(req.headers["accept-encoding"] ?? "") && { compressed: false }),
      at,
    };
    this.requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished && record.status !== 0) record.abandoned = true;
    });
    const fault = this.takeFault(method, url.pathname + url.search);
    if (fault) {
      record.fault = fault;
      if (fault.delayMs) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.delays.delete(timer);
            resolve();
          }, fault.delayMs);
          this.delays.add(timer);
        });
        if (res.destroyed) return;
      }
      if (fault.dropConnection) {
        record.status = 0;
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined) {
        const reason = fault.reason ?? defaultReason(fault.status);
        const message = fault.message ?? `injected fault: ${reason}`;
        if (fault.retryAfterSeconds !== undefined)
          res.setHeader("Retry-After", String(fault.retryAfterSeconds));
        return this.send(res, record, {
          status: fault.status,
          body: failureStatus(fault.status, reason, message),
        });
      }
    }
    let answer: Answer;
    try {
      const identity = this.authenticateAndAuthorize(req, method, url);
      record.user = identity.user;
      if (rawBody !== "" && !contentType?.includes("json"))
        throw badRequest(`unsupported media type ${contentType}`);
      if (typeof record.body === "string") throw badRequest("the request body is not valid JSON");
      if (
        method === "GET" &&
        (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1")
      )
        return this.watch(res, record, url);
      answer =
        method === "POST" && url.pathname === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
          ? this.accessReview(identity, record.body)
          : this.route(method, url, record.body, contentType);
    } catch (error) {
      if (error instanceof ApiError)
        answer = {
          status: error.code,
          body: failureStatus(error.code, error.reason, error.message, error.details),
        };
      else {
        this.serverErrors.push(error);
        answer = {
          status: 500,
          body: failureStatus(500, "InternalError", `fake server bug: ${String(error)}`),
        };
      }
    }
    this.send(res, record, answer);
  }

  /** Who the caller is, once its token (or client certificate) is known and the request allowed. */
  private authenticateAndAuthorize(req: IncomingMessage, method: string, url: URL): Identity {
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
    const identity = token === undefined ? this.certificateIdentity(req) : this.authenticate(token);
    if (!identity) throw new ApiError(401, "Unauthorized", "Unauthorized");
    if (!this.authorization) return identity;
    const attributes = attributesOf(method, url.pathname, url.searchParams);
    if (attributes) authorize(this.authorization, identity, attributes);
    return identity;
  }

  /** A client certificate the fake's CA signed, as Kubernetes reads one: CN the user, each O a group. */
  private certificateIdentity(req: IncomingMessage): Identity | undefined {
    const socket = req.socket as TLSSocket;
    if (!socket.encrypted || !socket.authorized) return undefined;
    const { subject } = socket.getPeerCertificate();
    const user = [subject?.CN ?? []].flat()[0];
    if (!user) return undefined;
    return { user, groups: [...[subject.O ?? []].flat(), "system:authenticated"] };
  }

  /** Who a token is; undefined (401) when no authenticator takes it. */
  private authenticate(token: string): Identity | undefined {
    if (this.eks && token.startsWith("k8s-aws-v1.")) {
      const problem = eksTokenProblem(token, this.eks);
      this.eksVerdicts.push({ token, ...(problem !== undefined && { problem }) });
      return problem === undefined ? { user: this.eks.username, groups: this.eks.groups } : undefined;
    }
    if (!this.authorization)
      return token === this.token ? { user: "admin", groups: ["system:masters"] } : undefined;
    const account = this.authorization.serviceAccounts[token];
    return account === undefined ? undefined : serviceAccountIdentity(account);
  }

  /**
   * `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: may the caller do this? Every authenticated
   * user may ask (Kubernetes' `system:basic-user` ClusterRole), and the answer comes from the same RBAC rules
   * that authorize its requests; anyone a fake without RBAC lets in may do anything.
   */
  private accessReview(identity: Identity, body: unknown): Answer {
    // biome-ignore lint/suspicious/noExplicitAny: read field by field, as the API server decodes it
    const review = body as any;
    const attributes = review?.spec?.resourceAttributes;
    if (review?.kind !== "SelfSubjectAccessReview" || typeof attributes !== "object" || attributes === null)
      throw badRequest("a SelfSubjectAccessReview with spec.resourceAttributes is required by this fake");
    const request = {
      verb: String(attributes.verb ?? ""),
      group: String(attributes.group ?? ""),
      resource: String(attributes.resource ?? ""),
      namespace: String(attributes.namespace ?? ""),
      ...(attributes.subresource && { subresource: String(attributes.subresource) }),
      ...(attributes.name && { name: String(attributes.name) }),
    };
    const permitted = this.authorization ? allowed(this.authorization, identity, request) : true;
    return {
      status: 201,
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        metadata: { creationTimestamp: null },
        spec: review.spec,
        status: permitted
          ? { allowed: true, reason: `RBAC: allowed by the Roles bound to ${identity.user}` }
          : { allowed: false },
      },
    };
  }

  private route(method: string, url: URL, body: unknown, contentType?: string): Answer {
    const query = url.searchParams;
    const selector = query.get("labelSelector") ?? undefined;
    const c = this.cluster;
    const jobs = JOBS.exec(url.pathname);
    if (jobs) {
      const [, ns = "", name, status] = jobs;
      if (name === undefined) {
        if (method === "GET") return ok(c.listJobs(ns, selector));
        if (method === "POST") return { status: 201, body: c.createJob(ns, body) };
      } else if (method === "GET") return ok(c.getJob(ns, name));
      else if (method === "DELETE" && !status) {
        const policy =
          query.get("propagationPolicy") ?? (body as { propagationPolicy?: string })?.propagationPolicy;
        return ok(c.deleteJob(ns, name, policy));
      }
      throw methodNotAllowed(method);
    }
    const pods = PODS.exec(url.pathname);
    if (pods) {
      const [, ns = "", name, log] = pods;
      if (method === "PATCH" && name !== undefined && !log)
        return ok(c.patchPod(ns, name, (pod) => applyPatch(pod, body, contentType)));
      if (method !== "GET") throw methodNotAllowed(method);
      if (name === undefined) return ok(c.listPods(ns, selector));
      if (!log) return ok(c.getPod(ns, name));
      const container = query.get("container") ?? undefined;
      const tailLines = query.get("tailLines") ?? undefined;
      const limitBytes = query.get("limitBytes") ?? undefined;
      const timestamps = query.get("timestamps") ?? undefined;
      return {
        status: 200,
        contentType: "text/plain",
        body: c.podLog(ns, name, {
          ...(container !== undefined && { container }),
          ...(tailLines !== undefined && { tailLines }),
          ...(limitBytes !== undefined && { limitBytes }),
          ...(timestamps !== undefined && { timestamps }),
        }),
      };
    }
    const secrets = SECRETS.exec(url.pathname);
    if (secrets) {
      const [, ns = "", name] = secrets;
      if (name === undefined) {
        if (method === "GET") return ok(c.listSecrets(ns, selector));
        if (method === "POST") return { status: 201, body: c.createSecret(ns, body) };
      } else if (method === "GET") return ok(c.getSecret(ns, name));
      else if (method === "DELETE") return ok(c.deleteSecret(ns, name));
      throw methodNotAllowed(method);
    }
    const events = EVENTS.exec(url.pathname);
    if (events) {
      if (method !== "GET") throw methodNotAllowed(method);
      return ok(c.listEvents(events[1] ?? "", query.get("fieldSelector") ?? undefined));
    }
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  }

  private watch(res: ServerResponse, record: RecordedRequest, url: URL) {
    const jobs = JOBS.exec(url.pathname);
    const pods = PODS.exec(url.pathname);
    const kind = jobs && jobs[2] === undefined ? "jobs" : pods && pods[2] === undefined ? "pods" : undefined;
    if (!kind) throw badRequest(`the fake API server watches only Jobs and pods, not ${url.pathname}`);
    record.status = 200;
    this.watches.open(
      res,
      kind,
      (jobs ?? pods)?.[1] ?? "",
      url.searchParams.get("labelSelector") ?? undefined,
      url.searchParams.get("resourceVersion") ?? "",
    );
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.pathIncludes === undefined || path.includes(f.pathIncludes)),
    );
    if (fault) fault.remaining -= 1;
    return fault;
  }

  private send(res: ServerResponse, record: RecordedRequest, answer: Answer) {
    if (res.destroyed) return;
    record.status = answer.status;
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
    const headers = { "Content-Type": answer.contentType ?? "application/json" };
    // As the API server's response compression does: gzip for a client that accepts it, from 128 KB on.
    if (record.compressed === false && Buffer.byteLength(text) >= 128 * 1024) {
      record.compressed = true;
      res.writeHead(answer.status, { ...headers, "Content-Encoding": "gzip" });
      res.end(gzipSync(text));
      return;
    }
    res.writeHead(answer.status, headers);
    res.end(text);
  }
}

/** Starts a fake API server; `close()` it when done. */
export function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  return FakeKubernetes.start(options);
}

const ok = (body: unknown): Answer => ({ status: 200, body });

const methodNotAllowed = (method: string) =>
  new ApiError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource: ${method}`,
  );

function defaultReason(status: number): string {
  const reasons: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
  };
  return reasons[status] ?? "Unknown";
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseBody(raw: string): unknown {
  if (raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * A patch as the API server applies it, by its content type: JSON Patch (RFC 6902: add, replace, remove, test),
 * or a merge patch (RFC 7386; a strategic merge patch reads the same for the scalar fields patched here).
 */
function applyPatch(target: Record<string, unknown>, patch: unknown, contentType: string | undefined) {
  const type = contentType?.split(";")[0]?.trim();
  if (type === "application/merge-patch+json" || type === "application/strategic-merge-patch+json")
    return mergePatch(target, patch) as Record<string, unknown>;
  if (type !== "application/json-patch+json")
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
    );
  if (!Array.isArray(patch)) throw badRequest("the JSON Patch must be an array of operations");
  for (const operation of patch as Array<{ op?: string; path?: string; value?: unknown }>) {
    const path = String(operation.path ?? "");
    if (!path.startsWith("/")) throw badRequest(`invalid JSON Patch path "${path}"`);
    const keys = path
      .slice(1)
      .split("/")
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop() as string;
    // biome-ignore lint/suspicious/noExplicitAny: a patch walks the object field by field.
    let parent: any = target;
    for (const k of keys) {
      parent = parent?.[k];
      if (parent === null || typeof parent !== "object")
        throw new ApiError(422, "Invalid", `doc is missing path: "${path}": missing value`);
    }
    if (operation.op === "add" || operation.op === "replace") {
      if (operation.op === "replace" && !(last in parent))
        throw new ApiError(
          422,
          "Invalid",
          `replace operation does not apply: doc is missing key: ${path}: missing value`,
        );
      parent[last] = operation.value;
    } else if (operation.op === "remove") {
      if (!(last in parent))
        throw new ApiError(
          422,
          "Invalid",
          `remove operation does not apply: doc is missing key: ${path}: missing value`,
        );
      delete parent[last];
    } else if (operation.op === "test") {
      if (JSON.stringify(parent[last]) !== JSON.stringify(operation.value))
        throw new ApiError(422, "Invalid", `the JSON Patch test operation failed at ${path}`);
    } else throw badRequest(`unsupported JSON Patch operation "${operation.op}"`);
  }
  return target;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}
