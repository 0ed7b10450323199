import type { Context, Hono, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  ConflictError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PermanentError,
  RetryableError,
  TooLargeError,
  UnauthorizedError,
  ValidationError,
  VersionConflictError,
} from "../core/errors.js";
import { type LogFields, withFields } from "../core/log-context.js";
import type { Issue } from "../core/model/index.js";
import type { Logger } from "../core/ports.js";

/**
 * Each function's app, on Hono's preset for apps built at every cold start: its router (LinearRouter) adds a route
 * without compiling anything, where the default preset's builds one regular expression of every route on the
 * first request. Node 22, instructions to a cold start's first answer (issue 20, twelfth session): about 3 million
 * fewer for the webhook, 4 for the callback and the API, 6 for the console's page (the API's 89 handlers); a warm
 * match there takes 1.5 µs against 0.3.
 */
export { Hono } from "hono/quick";

/** The contract's error body: `{error, issues?}`. */
export interface ErrorBody {
  error: string;
  issues?: Array<Pick<Issue, "path" | "message">>;
  [extra: string]: unknown;
}

export function errorBody(error: string, issues?: Issue[], extra: Record<string, unknown> = {}): ErrorBody {
  return {
    error,
    ...(issues && issues.length > 0 && { issues: issues.map(({ path, message }) => ({ path, message })) }),
    ...extra,
  };
}

/**
 * The one place errors become answers: every function's app installs it, and routes throw domain errors
 * (core/errors.ts) instead of choosing a status. A client's mistake is a 4xx with its reason, never a 500.
 */
export function statusOf(error: unknown): ContentfulStatusCode {
  if (error instanceof HTTPException) return error.status as ContentfulStatusCode;
  if (error instanceof ValidationError) return 400;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof MethodNotAllowedError) return 405;
  if (error instanceof ConflictError) return 409;
  if (error instanceof TooLargeError) return 413;
  if (error instanceof PermanentError) return 422;
  // A run so contended that every optimistic retry lost: nothing was recorded, and trying again will pass.
  if (error instanceof RetryableError || error instanceof VersionConflictError) return 503;
  return 500;
}

// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its env and schema types
export function installErrorHandler(app: Hono<any, any, any>, log: Logger): void {
  app.onError((error, c) => respondWithError(c, error, log));
  app.notFound((c) => c.json(errorBody(`no route ${c.req.method} ${c.req.path}`), 404));
}

/**
 * `log` with the request's fields (`fields`: its run, task and attempt) kept in the request's `log` variable:
 * the logger its route hands down and the error handler writes with.
 */
export function requestLog(
  log: Logger,
  fields: (c: Context) => LogFields,
): MiddlewareHandler<{ Variables: { log: Logger } }> {
  return async function nameRequest(c, next) {
    c.set("log", withFields(log, fields(c)));
    await next();
  };
}

/** `log`: the function's logger, used where the request has none of its own (`requestLog`). */
export function respondWithError(c: Context, error: unknown, log: Logger) {
  const status = statusOf(error);
  if (status >= 500)
    ((c.get("log") as Logger | undefined) ?? log).error("request failed", {
      path: c.req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
  if (error instanceof HTTPException && error.res) return error.res;
  const message = status === 500 ? "internal error" : error instanceof Error ? error.message : String(error);
  const issues = error instanceof ValidationError ? error.issues : undefined;
  const extra = error instanceof ConflictError ? (error.details ?? {}) : {};
  if (error instanceof VersionConflictError) c.header("Retry-After", "1");
  if (error instanceof RetryableError && error.retryAfterSeconds !== undefined)
    c.header("Retry-After", String(Math.ceil(error.retryAfterSeconds)));
  if (error instanceof UnauthorizedError && error.challenge) c.header("WWW-Authenticate", error.challenge);
  if (error instanceof MethodNotAllowedError) c.header("Allow", error.allow.join(", "));
  return c.json(errorBody(message, issues, extra), status);
}

/** Refuses a body over `maxBytes` before anything reads it: a TooLargeError saying `what` is limited. */
export function limitBody(maxBytes: number, what: string): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new TooLargeError(`${what} is at most ${describeBytes(maxBytes)}`);
    },
  });
}

function describeBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KB`;
  return `${bytes} bytes`;
}

/** Lowercase header names, as providers are read. */
export function headersOf(c: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return headers;
}
