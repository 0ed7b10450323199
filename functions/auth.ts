import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { parseCallbackTaskId } from "../core/engine/index.js";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../core/errors.js";
import { type Actor, BOOTSTRAP_TOKEN } from "../core/model/index.js";
import type { TaskAttempt } from "../core/services/reports.js";
import type { TaskTokens } from "../core/services/tokens.js";

/**
 * `Authorization: Bearer <token>`, compared in constant time (both sides hashed, so lengths never leak). Built
 * once with its token: a missing token is a configuration error at start, not a 401 on every request. Sets
 * `actor` for the routes: the bootstrap token (the only one there is yet).
 */
export function bearerToken(
  token: string | undefined,
  variable: string,
): MiddlewareHandler<{ Variables: { actor: Actor } }> {
  if (!token) throw new Error(`${variable} is not set: the API needs a bearer token`);
  const expected = createHash("sha256").update(token).digest();
  return async function requireBearerToken(c, next) {
    const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!presented) throw new UnauthorizedError(`missing Authorization: Bearer <${variable}>`, "Bearer");
    if (!timingSafeEqual(createHash("sha256").update(presented).digest(), expected))
      throw new UnauthorizedError(`the token does not match ${variable}`, "Bearer");
    c.set("actor", BOOTSTRAP_TOKEN);
    await next();
  };
}

/**
 * A task attempt's callback: the attempt named by the URL's `taskId`, proven by its own token (bound to run,
 * task and attempt, so any other attempt's token is refused). Sets `attempt` for the route.
 */
export function taskToken(tokens: TaskTokens): MiddlewareHandler<{ Variables: { attempt: TaskAttempt } }> {
  return async function requireTaskToken(c, next) {
    const ref = parseCallbackTaskId(c.req.param("taskId") ?? "");
    if (!ref) throw new NotFoundError("no such task; use the URL in HOOKFLOW_CALLBACK_URL");
    const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!token) throw new UnauthorizedError("missing Authorization: Bearer <HOOKFLOW_TASK_TOKEN>", "Bearer");
    if (!(await tokens.verify(ref, token)))
      throw new ForbiddenError("this token does not belong to this task attempt");
    c.set("attempt", ref);
    await next();
  };
}
