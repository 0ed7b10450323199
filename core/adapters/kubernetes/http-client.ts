import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { gunzip } from "node:zlib";
import { nodeHttp } from "../node-builtins.js";
import { WarmAgent } from "../warm-agent.js";
import {
  type KubernetesApis,
  KubernetesHttpError,
  KubernetesTransportError,
  type PodLogQuery,
} from "./apis.js";

/**
 * Where the API server is and how to sign in there, when that is all a kubeconfig says: what hookflow's own
 * client can use (see `connectKubernetes`). The TLS settings are those of a kubeconfig's cluster.
 */
export interface Connection {
  /** The API server's URL, without a trailing slash. http: only with `skipTlsVerify` (as client-node). */
  server: string;
  /** The cluster's CA (PEM): the server's certificate must chain to it. Without it, the system's CAs. */
  ca?: Buffer;
  /** A client certificate and its key (PEM), to sign in with. */
  cert?: Buffer;
  key?: Buffer;
  /** `insecure-skip-tls-verify`: the server's certificate is not checked. */
  skipTlsVerify: boolean;
  /** `tls-server-name`: the name the server's certificate is checked against, when it is not the URL's host. */
  serverName?: string;
  /** The bearer token every request carries, asked for each time so that a renewed one is used at once. */
  token?: () => Promise<string>;
}

/** Says which client sent a request, in the API server's audit log. */
export const USER_AGENT = "hookflow";
/** The most one answer may hold, decompressed, besides a log (which asks for `limitBytes`). */
const ANSWER_MAX_BYTES = 16 * 1024 * 1024;
/** A log answer's room beyond its `limitBytes`: the API cuts at a line's end past the limit, not at the byte. */
const LOG_MARGIN_BYTES = 1024 * 1024;

interface Request {
  method: "GET" | "POST" | "DELETE" | "PATCH";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  maxBytes?: number;
}

/**
 * The calls the runner, the relay's judgements and the doctor make, sent with node:http(s) alone: a few
 * milliseconds to load where @kubernetes/client-node takes about 70 ms of CPU (its every model is loaded for its
 * serializer), which a scheduler's cold start pays. Answers are the API's JSON (times as strings, see `Wire`);
 * errors are those of `KubernetesApis`. Connections are kept alive between requests.
 */
export function httpApis(connection: Connection, requestTimeoutMs: number): KubernetesApis {
  const send = sender(connection, requestTimeoutMs);
  const json = async <T>(request: Request): Promise<T> =>
    JSON.parse((await send(request)).toString("utf8")) as T;
  const ns = (namespace: string) => `/namespaces/${encodeURIComponent(namespace)}`;
  const named = (name: string) => `/${encodeURIComponent(name)}`;
  return {
    createJob: (namespace, job) =>
      json({ method: "POST", path: `/apis/batch/v1${ns(namespace)}/jobs`, body: job }),
    readJob: (namespace, name) =>
      json({ method: "GET", path: `/apis/batch/v1${ns(namespace)}/jobs${named(name)}` }),
    deleteJob: async (namespace, name) => {
      await send({
        method: "DELETE",
        path: `/apis/batch/v1${ns(namespace)}/jobs${named(name)}`,
        query: { propagationPolicy: "Background" },
      });
    },
    createSecret: async (namespace, secret) => {
      await send({ method: "POST", path: `/api/v1${ns(namespace)}/secrets`, body: secret });
    },
    listPods: async (namespace, labelSelector) =>
      (
        await json<{ items?: [] }>({
          method: "GET",
          path: `/api/v1${ns(namespace)}/pods`,
          query: { labelSelector },
        })
      ).items ?? [],
    patchPod: async (namespace, name, patch) => {
      await send({
        method: "PATCH",
        path: `/api/v1${ns(namespace)}/pods${named(name)}`,
        body: patch,
        contentType: "application/json-patch+json",
      });
    },
    readPodLog: async (namespace, name, query: PodLogQuery) =>
      (
        await send({
          method: "GET",
          path: `/api/v1${ns(namespace)}/pods${named(name)}/log`,
          query: { ...query },
          ...(query.limitBytes !== undefined && { maxBytes: query.limitBytes + LOG_MARGIN_BYTES }),
        })
      ).toString("utf8"),
    listEvents: async (namespace, fieldSelector) =>
      (
        await json<{ items?: [] }>({
          method: "GET",
          path: `/api/v1${ns(namespace)}/events`,
          query: { fieldSelector },
        })
      ).items ?? [],
    reviewAccess: (review) =>
      json({ method: "POST", path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body: review }),
  };
}

function sender(connection: Connection, timeoutMs: number) {
  const secure = connection.server.startsWith("https:");
  if (!secure && !connection.skipTlsVerify)
    throw new Error("the API server's URL is http: without insecure-skip-tls-verify");
  const agent = secure
    ? new WarmAgent({
        ...(connection.ca && { ca: connection.ca }),
        ...(connection.cert && { cert: connection.cert }),
        ...(connection.key && { key: connection.key }),
        ...(connection.skipTlsVerify && { rejectUnauthorized: false }),
        ...(connection.serverName && { servername: connection.serverName }),
      })
    : new nodeHttp.Agent({ keepAlive: true });
  // Opened as the client is made: the scheduler makes it at start, while its first message's DynamoDB request is
  // on the network, where the TLS handshake then falls.
  if (agent instanceof WarmAgent) agent.warm(connection.server);
  const send = secure ? httpsRequest : nodeHttp.request;
  return async (request: Request): Promise<Buffer> => {
    const url = new URL(connection.server + request.path);
    for (const [key, value] of Object.entries(request.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, String(value));
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = {
      accept: "application/json, */*",
      "user-agent": USER_AGENT,
      "accept-encoding": "gzip",
      ...(body !== undefined && {
        "content-type": request.contentType ?? "application/json",
        "content-length": String(Buffer.byteLength(body)),
      }),
    };
    if (connection.token) headers.authorization = `Bearer ${await connection.token()}`;
    const maxBytes = request.maxBytes ?? ANSWER_MAX_BYTES;
    const {
      status,
      answer,
      headers: answerHeaders,
    } = await new Promise<{
      status: number;
      answer: Buffer;
      headers: Record<string, string>;
    }>((resolve, reject) => {
      let timedOut = false;
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(
          timedOut
            ? new KubernetesTransportError(`no answer within ${timeoutMs} ms`, true)
            : error instanceof KubernetesTransportError
              ? error
              : new KubernetesTransportError(`${request.method} ${url.pathname}: ${error.message}`, false, {
                  cause: error,
                }),
        );
      };
      const req = send(url, { method: request.method, agent, headers }, (res) => {
        readAnswer(res, maxBytes).then((answer) => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, answer, headers: headersOf(res) });
        }, fail);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(new Error("timed out"));
      }, timeoutMs);
      req.on("error", fail);
      req.end(body);
    });
    if (status >= 200 && status < 300) return answer;
    throw new KubernetesHttpError(status, answer.toString("utf8"), answerHeaders);
  };
}

/** The answer's body, decompressed, refused past `maxBytes`. */
async function readAnswer(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      res.destroy();
      throw new KubernetesTransportError(`the answer is larger than ${maxBytes} bytes`, false);
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks);
  if (res.headers["content-encoding"] !== "gzip") return raw;
  return new Promise((resolve, reject) =>
    gunzip(raw, { maxOutputLength: maxBytes }, (error, text) =>
      error
        ? reject(
            new KubernetesTransportError(`the answer could not be decompressed: ${error.message}`, false),
          )
        : resolve(text),
    ),
  );
}

function headersOf(res: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  return headers;
}
