import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PermanentError,
  RetryableError,
  UnauthorizedError,
  ValidationError,
} from "../core/errors.js";
import type { Issue } from "../core/model/index.js";
import type { Logger } from "../core/ports.js";

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

/** The one place errors become answers: a client's mistake is a 4xx with its reason, never a 500. */
export function statusOf(error: unknown): ContentfulStatusCode {
  if (error instanceof HTTPException) return error.status as ContentfulStatusCode;
  if (error instanceof ValidationError) return 400;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof PermanentError) return 422;
  if (error instanceof RetryableError) return 503;
  return 500;
}

// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its env and schema types
export function installErrorHandler(app: Hono<any, any, any>, log: Logger): void {
  app.onError((error, c) => respondWithError(c, error, log));
  app.notFound((c) => c.json(errorBody(`no route ${c.req.method} ${c.req.path}`), 404));
}

export function respondWithError(c: Context, error: unknown, log: Logger) {
  const status = statusOf(error);
  if (status >= 500)
    log.error("request failed", {
      path: c.req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
  if (error instanceof HTTPException && error.res) return error.res;
  const message = status === 500 ? "internal error" : error instanceof Error ? error.message : String(error);
  const issues = error instanceof ValidationError ? error.issues : undefined;
  const extra = error instanceof ConflictError ? (error.details ?? {}) : {};
  if (error instanceof RetryableError && error.retryAfterSeconds !== undefined)
    c.header("Retry-After", String(Math.ceil(error.retryAfterSeconds)));
  return c.json(errorBody(message, issues, extra), status);
}

/** Lowercase header names, as providers are read. */
export function headersOf(c: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return headers;
}
