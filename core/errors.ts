import { describeIssues, type Issue } from "./model/issues.js";

/**
 * Errors grouped by what happens next. `functions/` maps them: Permanent fails the task (or answers 4xx),
 * Retryable leaves the message to SQS redelivery (or answers 503), Conflict reloads and re-applies.
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

export class UnauthorizedError extends HookflowError {
  override name = "UnauthorizedError";
}
export class ForbiddenError extends HookflowError {
  override name = "ForbiddenError";
}
