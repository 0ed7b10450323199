import { PermanentError, RetryableError } from "../../errors.js";

/**
 * One HTTP POST to an outside service, and the classification of its answer into success, RetryableError or
 * PermanentError. Shared by the notification senders and the commit-status reporters.
 */

export type Fetch = typeof fetch;

/** Sends one request and answers with the reply, of which at most MAX_REPLY_BYTES of body are read. */
export type Send = (request: OutgoingRequest, limits: { timeoutMs: number }) => Promise<HttpReply>;

/**
 * What is read of an answer's body: services answer a small JSON object, and a few KB show any error. More is
 * never read (a target could answer gigabytes), and the connection is dropped instead.
 */
export const MAX_REPLY_BYTES = 8 * 1024;

/** The destination is not one hookflow sends to (core/model/addresses.ts); never retried. */
export class TargetRefused extends Error {
  override name = "TargetRefused";
}

export interface OutgoingRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface HttpReply {
  status: number;
  headers: Headers;
  text: string;
}

/** A refusal a service states in the body of its answer (`code` ≠ 0), often with HTTP 200. */
export interface ServiceRefusal {
  code: string | number;
  message: string;
  retryable: boolean;
  retryAfterSeconds?: number;
}

export interface DeliverOptions {
  send: Send;
  timeoutMs: number;
  nowMs: number;
  /** Names the destination in errors, e.g. "feishu notifier at open.feishu.cn"; never the URL. */
  target: string;
  /** Strings no error message may contain: the secret or token, and the parts of the URL that carry one. */
  secrets: string[];
  /** The service's own verdict on an answer; undefined when it has nothing to object. */
  refusal?: (reply: HttpReply) => ServiceRefusal | undefined;
  /** Answers that count as success although their status says otherwise (an idempotent repeat). */
  accepts?: (reply: HttpReply) => boolean;
  /**
   * Whether an error may quote the answer's body (default true). A generic webhook's body is whatever its
   * server says, and errors are stored on the run and shown by the API: such an error says only the status.
   */
  quoteReplies?: boolean;
}

const MAX_QUOTED = 200;

export async function deliver(request: OutgoingRequest, options: DeliverOptions): Promise<void> {
  const reply = await post(request, options);
  if (options.accepts?.(reply)) return;
  const { status } = reply;
  const body = options.quoteReplies === false ? "" : quote(reply.text, options.secrets);
  if (status === 408 || status === 429 || status >= 500)
    throw new RetryableError(
      `${options.target}: HTTP ${status}${body}`,
      retryAfterSeconds(reply.headers, options.nowMs),
    );
  const refusal = options.refusal?.(reply);
  if (refusal) {
    const said = `code ${refusal.code}${refusal.message ? ` (${refusal.message})` : ""}`;
    const message = `${options.target}: HTTP ${status}${quote(said, options.secrets)}`;
    throw refusal.retryable
      ? new RetryableError(message, refusal.retryAfterSeconds)
      : new PermanentError(message);
  }
  if (status >= 300 && status < 400)
    // Following a redirect would send the signed body, and the token in the URL, to wherever it points.
    throw new PermanentError(`${options.target}: HTTP ${status}, redirects are not followed`);
  if (status < 200 || status >= 300) throw new PermanentError(`${options.target}: HTTP ${status}${body}`);
}

async function post(request: OutgoingRequest, options: DeliverOptions): Promise<HttpReply> {
  try {
    return await options.send(request, { timeoutMs: options.timeoutMs });
  } catch (error) {
    if (error instanceof TargetRefused)
      throw new PermanentError(`${options.target}: refused, ${scrub(error.message, options.secrets)}`);
    // The cause is not attached: a network error's text may quote the URL, and with it the token.
    if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
      throw new RetryableError(`${options.target}: no answer within ${options.timeoutMs} ms`);
    throw new RetryableError(`${options.target}: request failed (${networkReason(error, options.secrets)})`);
  }
}

/** A Send over `fetch` (the commit-status reporters', whose API URLs an administrator configures). */
export function fetchSend(fetchImpl: Fetch): Send {
  return async (request, limits) => {
    const response = await fetchImpl(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(limits.timeoutMs),
    });
    return { status: response.status, headers: response.headers, text: await readAtMost(response) };
  };
}

/** At most MAX_REPLY_BYTES of a fetched body; the rest is not read, and cancelling drops the connection. */
async function readAtMost(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_REPLY_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  if (size >= MAX_REPLY_BYTES) await reader.cancel();
  return Buffer.concat(chunks).subarray(0, MAX_REPLY_BYTES).toString("utf8");
}

function networkReason(error: unknown, secrets: string[]): string {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  return scrub(cause instanceof Error ? cause.message : String(cause), secrets);
}

/** Retry-After in seconds, from either of its forms (delta-seconds or an HTTP date). */
export function retryAfterSeconds(headers: Headers, nowMs: number): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * The strings to keep out of errors for a URL that carries a credential: DingTalk and WeCom put it in the
 * query (access_token, key), Feishu and Slack in the path (/hook/<token>, /services/T/B/<token>).
 */
export function credentialsIn(url: string, ...secrets: Array<string | undefined>): string[] {
  const found = secrets.filter((s): s is string => Boolean(s));
  found.push(url);
  try {
    const parsed = new URL(url);
    for (const segment of parsed.pathname.split("/")) if (segment.length >= 16) found.push(segment);
    for (const value of parsed.searchParams.values()) if (value.length >= 4) found.push(value);
  } catch {
    // An unparsable URL is kept out of messages whole, which the line above already does.
  }
  return [...found, ...found.map(encodeURIComponent)];
}

/** "open.feishu.cn", never more of the URL: the rest may hold a token. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "an invalid URL";
  }
}

export function scrub(text: string, secrets: string[]): string {
  let clean = text;
  // Longest first, so that a secret containing another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length))
    if (secret) clean = clean.split(secret).join("[redacted]");
  return clean;
}

function quote(text: string, secrets: string[]): string {
  const clean = scrub(text.trim(), secrets);
  if (!clean) return "";
  return `: ${clean.length > MAX_QUOTED ? `${clean.slice(0, MAX_QUOTED)}…` : clean}`;
}

/** Parses a JSON answer; undefined when it is not JSON (a proxy's error page, an empty body). */
export function jsonOf(reply: HttpReply): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(reply.text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
