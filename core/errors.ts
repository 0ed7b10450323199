import { describeIssues, type Issue } from "./model/issues.js";

/**
 * Errors grouped by what happens next. `functions/` maps them: Permanent fails the task (or answers 4xx),
 * Retryable leaves the message to SQS redelivery (or answers 503), Conflict reloads and re-applies. An HTTP
 * status is chosen for them in one place only: `statusOf` in functions/http.ts.
 *
 * Each class spells out its `name`: a minifier renames classes, and the name is what a log shows (Lambda logs a
 * thrown error as `errorType`), so it must not come from the class's own identifier.
 */
export class HookflowError extends Error {
  override name = "HookflowError";
}

/** Will fail the same way if tried again: an invalid manifest, a 4xx from an API, a forbidden action. */
export class PermanentError extends HookflowError {
  override name = "PermanentError";
}

/** May pass if tried later: a 5xx, a 429, a timeout, a dropped connection. */
export class RetryableError extends HookflowError {
  override name = "RetryableError";
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Input that breaks the contract; carries every problem with its path. */
export class ValidationError extends HookflowError {
  override name = "ValidationError";
  constructor(
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
  }

  /** The message and every problem, one per line, for a person reading a terminal. */
  explain(): string {
    return this.issues.length > 0 ? `${this.message}\n${describeIssues(this.issues)}` : this.message;
  }
}

/** A conditional write lost a race; carries what is stored now. */
export class VersionConflictError<T = unknown> extends HookflowError {
  override name = "VersionConflictError";
  constructor(
    message: string,
    readonly current: T | undefined,
  ) {
    super(message);
  }
}

export class NotFoundError extends HookflowError {
  override name = "NotFoundError";
}

/** The request conflicts with the state of what it addresses (a terminal task, a template in use). */
export class ConflictError extends HookflowError {
  override name = "ConflictError";
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** No credentials, or credentials that prove nothing; `challenge` is what a client should present instead. */
export class UnauthorizedError extends HookflowError {
  override name = "UnauthorizedError";
  constructor(
    message: string,
    readonly challenge?: string,
  ) {
    super(message);
  }
}
export class ForbiddenError extends HookflowError {
  override name = "ForbiddenError";
}

/** A body or a value over its limit. */
export class TooLargeError extends HookflowError {
  override name = "TooLargeError";
}

/** A route that exists, asked with a method it does not take; `allow` lists the ones it does. */
export class MethodNotAllowedError extends HookflowError {
  override name = "MethodNotAllowedError";
  constructor(
    message: string,
    readonly allow: string[],
  ) {
    super(message);
  }
}
