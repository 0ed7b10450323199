import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from "../errors.js";
import { type Principal, principalName, type Role, roleIncludes } from "../model/index.js";
import type { AuditLog, Clock } from "../ports.js";

/** An action the audit records: what, on what, and the role it needs. */
export interface Attempt {
  action: string;
  target: string;
  role: Role;
  detail?: Record<string, unknown>;
}

/**
 * Who may do what, and the audit trail of it: the one place a role is checked. Reads check only; every change
 * (definitions, runs started by hand, cancels, reruns, approvals, tokens) goes through `perform`, which records
 * it, allowed or refused, with who tried.
 */
export class AccessControl {
  constructor(private readonly deps: { audit: AuditLog; clock: Clock }) {}

  /** Refuses (403, naming the role needed) a principal whose role does not include `needed`. */
  check(principal: Principal, needed: Role): void {
    if (!roleIncludes(principal.role, needed))
      throw new ForbiddenError(
        `this needs the ${needed} role; ${principalName(principal)} has ${principal.role ? `the ${principal.role} role` : "no role (see HOOKFLOW_ROLES)"}`,
      );
  }

  /**
   * Checks the role, does the work, and records the attempt either way. A refusal (a role too low, a rule the
   * action breaks, a state that does not allow it) is recorded with its reason and rethrown; `detailOf` adds
   * what the work returned (a new version, a token's id) to the record.
   */
  async perform<T>(
    principal: Principal,
    attempt: Attempt,
    work: () => Promise<T>,
    detailOf?: (result: T) => Record<string, unknown>,
  ): Promise<T> {
    let result: T;
    try {
      this.check(principal, attempt.role);
      result = await work();
    } catch (error) {
      if (isRefusal(error))
        await this.record(principal, attempt, "refused", { reason: (error as Error).message });
      throw error;
    }
    await this.record(principal, attempt, "allowed", detailOf?.(result));
    return result;
  }

  /** Records something done outside `perform` (a token made by `hookflow login`'s exchange). */
  note(principal: Principal, attempt: Attempt, detail?: Record<string, unknown>): Promise<void> {
    return this.record(principal, attempt, "allowed", detail);
  }

  private record(
    principal: Principal,
    attempt: Attempt,
    outcome: "allowed" | "refused",
    more?: Record<string, unknown>,
  ): Promise<void> {
    const detail = { ...attempt.detail, ...more, ...viaOf(principal) };
    return this.deps.audit.append({
      at: this.deps.clock.now(),
      actor: principalName(principal),
      action: attempt.action,
      target: attempt.target,
      outcome,
      ...(Object.keys(detail).length > 0 && { detail }),
    });
  }
}

/** A client's refused attempt, as opposed to hookflow failing (which is no decision to record). */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof ForbiddenError ||
    error instanceof ConflictError ||
    error instanceof NotFoundError ||
    error instanceof ValidationError ||
    error instanceof UnauthorizedError
  );
}

/** Which credential acted: a token's id, so that a leaked token's doings can be found. */
function viaOf(principal: Principal): Record<string, unknown> {
  if (principal.kind === "service") return { token: principal.tokenId };
  return "tokenId" in principal.via ? { token: principal.via.tokenId } : { via: "session" };
}
