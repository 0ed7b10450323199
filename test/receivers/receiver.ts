import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP server on 127.0.0.1 (a free port) standing in for an outside service. Each service's receiver
 * gives it a `judge` that checks a request the way the service does and says what to answer; the harness
 * records every request as accepted or rejected, and can be told to fail the next ones first.
 */

export interface ReceivedRequest {
  method: string;
  /** The path as sent, still percent-encoded. */
  rawPath: string;
  /** The path, decoded. */
  path: string;
  query: Record<string, string>;
  /** Lowercase names. */
  headers: Record<string, string>;
  body: string;
  /** The body's bytes exactly as received, for signatures. */
  rawBody: Buffer;
}

export interface Rejection extends ReceivedRequest {
  reason: string;
}

export interface Reply {
  status: number;
  /** A string is sent as text; anything else as JSON. Omitted: no body. */
  body?: unknown;
  headers?: Record<string, string>;
}

export type Verdict = { accept: true; reply: Reply } | { accept: false; reason: string; reply: Reply };

export interface Receiver {
  /** Where a sender should POST (for a robot: the full webhook URL, token included). */
  readonly url: string;
  /** Scheme, host and port only, for APIs addressed by path. */
  readonly origin: string;
  readonly accepted: ReceivedRequest[];
  readonly rejected: Rejection[];
  /** Answers the next `count` requests with `reply` without judging them (recorded as rejected). */
  failNext(count: number, reply?: Reply): void;
  /** Answers the next `count` requests the way the service answers a sender that exceeded its rate limit. */
  rateLimitNext(count: number): void;
  /** Forgets what was recorded and any failures still queued. */
  reset(): void;
  close(): Promise<void>;
}

export interface ReceiverSpec {
  /** Appended to the origin to form `url`. */
  path: string;
  judge(request: ReceivedRequest): Verdict;
  rateLimitReply: Reply;
  /** Forgets state the judge keeps between requests. */
  reset?: () => void;
}

export const SERVER_ERROR: Reply = { status: 500, body: "internal error" };

export async function startReceiver(spec: ReceiverSpec): Promise<Receiver> {
  const accepted: ReceivedRequest[] = [];
  const rejected: Rejection[] = [];
  const injected: Reply[] = [];

  const server = createServer((req, res) => {
    void readRequest(req).then((request) => {
      const failure = injected.shift();
      if (failure) {
        rejected.push({ ...request, reason: "injected failure" });
        return send(res, failure);
      }
      let verdict: Verdict;
      try {
        verdict = spec.judge(request);
      } catch (error) {
        verdict = { accept: false, reason: `judge threw: ${String(error)}`, reply: SERVER_ERROR };
      }
      if (verdict.accept) accepted.push(request);
      else rejected.push({ ...request, reason: verdict.reason });
      send(res, verdict.reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: origin + spec.path,
    origin,
    accepted,
    rejected,
    failNext(count, reply = SERVER_ERROR) {
      for (let i = 0; i < count; i++) injected.push(reply);
    },
    rateLimitNext(count) {
      for (let i = 0; i < count; i++) injected.push(spec.rateLimitReply);
    },
    reset() {
      accepted.length = 0;
      rejected.length = 0;
      injected.length = 0;
      spec.reset?.();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function readRequest(req: IncomingMessage): Promise<ReceivedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? "/", "http://receiver");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  const rawBody = Buffer.concat(chunks);
  return {
    method: req.method ?? "GET",
    rawPath: url.pathname,
    path: decodeURIComponent(url.pathname),
    query: Object.fromEntries(url.searchParams),
    headers,
    body: rawBody.toString("utf8"),
    rawBody,
  };
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload = "";
  if (typeof reply.body === "string") {
    payload = reply.body;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

// ---------------------------------------------------------------- helpers for judges

export const accept = (reply: Reply): Verdict => ({ accept: true, reply });
export const reject = (reason: string, reply: Reply): Verdict => ({ accept: false, reason, reply });

/** Parses a JSON object body; undefined when it is not one. */
export function jsonBody(request: ReceivedRequest): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(request.body);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Constant-time comparison, as the services do it. */
export function sameSecret(received: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(received), digest(expected));
}
