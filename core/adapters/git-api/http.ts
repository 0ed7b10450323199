import { PermanentError, RetryableError } from "../../errors.js";
import { type Fetch, retryAfterSeconds, scrub } from "../notify/http.js";

/** The bounds every host API read keeps: a slow or huge answer fails instead of holding a function. */
export interface ReadBounds {
  timeoutMs: number;
  /** Bytes of one answer's body, counted as they arrive. */
  maxBytes: number;
}

export const DEFAULT_READ_BOUNDS: ReadBounds = { timeoutMs: 10_000, maxBytes: 1024 * 1024 };

export interface HostRequest {
  url: string;
  headers: Record<string, string>;
  /** Names the host in errors ("github API at api.github.com"); never the token. */
  target: string;
  /** The setting holding the token, named when the host refuses it. */
  tokenSetting: string;
  token: string;
}

/**
 * One GET of a host API, classified: the JSON body, `undefined` for 404, RetryableError for a timeout, a
 * network failure, 408/429/5xx or a rate limit (403 with `x-ratelimit-remaining: 0`), PermanentError for the rest
 * (401 and 403 name the token's setting). Redirects are not followed: the token would travel with them.
 */
export async function getJson(
  request: HostRequest,
  options: ReadBounds & { fetch: Fetch; nowMs: number },
): Promise<unknown | undefined> {
  const secrets = [request.token, encodeURIComponent(request.token)];
  let response: Response;
  try {
    response = await options.fetch(request.url, {
      method: "GET",
      headers: request.headers,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
      throw new RetryableError(`${request.target}: no answer within ${options.timeoutMs} ms`);
    const cause = error instanceof Error ? (error.cause ?? error) : error;
    const code = (cause as { code?: unknown } | undefined)?.code;
    throw new RetryableError(
      `${request.target}: request failed (${typeof code === "string" ? code : scrub(String(cause), secrets)})`,
    );
  }
  const text = await boundedText(response, options.maxBytes, request.target);
  const { status } = response;
  if (status === 404) return undefined;
  if (status === 408 || status === 429 || status >= 500 || rateLimited(response))
    throw new RetryableError(
      `${request.target}: HTTP ${status}`,
      retryAfterSeconds(response.headers, options.nowMs),
    );
  if (status === 401 || status === 403)
    throw new PermanentError(
      `${request.target}: HTTP ${status}, the token in ${request.tokenSetting} was refused or may not read this repository`,
    );
  if (status < 200 || status >= 300)
    throw new PermanentError(`${request.target}: HTTP ${status}${quote(text, secrets)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PermanentError(`${request.target}: the answer is not JSON`);
  }
}

function rateLimited(response: Response): boolean {
  return response.status === 403 && response.headers.get("x-ratelimit-remaining") === "0";
}

/** Reads at most `maxBytes` of the body; a longer one is cancelled and refused. */
async function boundedText(response: Response, maxBytes: number, target: string): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new PermanentError(`${target}: the answer is ${declared} bytes; at most ${maxBytes} are read`);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new PermanentError(`${target}: the answer is over ${maxBytes} bytes, the most that is read`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function quote(text: string, secrets: string[]): string {
  const clean = scrub(text.trim(), secrets).slice(0, 200);
  return clean ? `: ${clean}` : "";
}

/** A field the adapter needs, or a PermanentError naming it: a host answering another shape is not guessed at. */
export function field<T>(value: T | undefined | null, name: string, target: string): T {
  if (value === undefined || value === null) throw new PermanentError(`${target}: the answer has no ${name}`);
  return value;
}

/** A file's content as the contents APIs send it (base64, line-wrapped by GitHub). */
export function decodeBase64(content: unknown, encoding: unknown, target: string): string {
  if (typeof content !== "string" || encoding !== "base64")
    throw new PermanentError(`${target}: the file's content is not base64`);
  return Buffer.from(content.replace(/\s+/g, ""), "base64").toString("utf8");
}

/** Each segment of a repository path encoded, the slashes kept (GitHub and Gitea contents paths). */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function ownerAndName(repository: string, target: string): [string, string] {
  const [owner, name, ...rest] = repository.split("/");
  if (!owner || !name || rest.length > 0)
    throw new PermanentError(`${target}: repository "${repository}" is not owner/name`);
  return [owner, name];
}
