import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { parseCallbackTaskId } from "../core/engine/index.js";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../core/errors.js";
import { type Actor, BOOTSTRAP_TOKEN, type Principal, type RoleMap } from "../core/model/index.js";
import { PersonalTokens, personPrincipal } from "../core/services/people.js";
import type { TaskAttempt } from "../core/services/reports.js";
import type { SignIn } from "../core/services/signin.js";
import type { TaskTokens } from "../core/services/tokens.js";

export const SESSION_COOKIE = "hookflow_session";
export const CSRF_COOKIE = "hookflow_csrf";
export const CSRF_HEADER = "x-hookflow-csrf";

export interface Authenticated {
  principal: Principal;
  actor: Actor;
  /** Set when the session cookie proved who it is: the value X-Hookflow-CSRF must carry on a change. */
  csrf?: string;
}

export interface AuthenticateOptions {
  /** The bootstrap HOOKFLOW_API_TOKEN: an admin that is not a person. */
  apiToken: string | undefined;
  tokens: PersonalTokens;
  roles: RoleMap;
  signIn?: SignIn;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The console's cookie holding a token typed into its form (`POST /console/login`): the bootstrap token where no
 * sign-in is configured, or a personal token. HTTP-only; changes made with it need X-Hookflow-CSRF, as a session's.
 */
export const TOKEN_COOKIE = "hookflow_token";

/** The CSRF value of a token kept in the console's cookie: bound to that token, unguessable without it. */
export function tokenCsrf(token: string): string {
  return createHash("sha256").update(`hookflow:csrf:${token}`).digest("base64url");
}

/** Who a request is, and the CSRF value its changes must carry when a cookie proved it. */
export interface Caller {
  principal: Principal;
  csrf?: string;
}

/**
 * Who a request is, or undefined when it says nothing: `Authorization: Bearer` with the bootstrap token
 * (compared in constant time, both sides hashed so lengths never leak) or a personal/service token (checked
 * against the store on every call, so a revoked one stops at once); else the console's token cookie (the same
 * check); else the session cookie of a signed-in person. A credential that is presented and wrong is a 401.
 * Built once with its options: a missing bootstrap token is a configuration error at start.
 */
export function identifyCaller(options: AuthenticateOptions): (c: Context) => Promise<Caller | undefined> {
  const byToken = tokenPrincipal(options);
  return async function identify(c) {
    const authorization = c.req.header("authorization");
    if (authorization !== undefined) {
      const presented = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
      if (!presented)
        throw new UnauthorizedError("the Authorization header is not `Bearer <token>`", "Bearer");
      const principal = await byToken(presented);
      if (!principal)
        throw new UnauthorizedError(
          "the token is neither HOOKFLOW_API_TOKEN nor a token from POST /api/tokens",
          "Bearer",
        );
      return { principal };
    }
    const kept = getCookie(c, TOKEN_COOKIE);
    if (kept !== undefined) {
      const principal = kept.length <= 256 ? await byToken(kept) : undefined;
      if (!principal)
        throw new UnauthorizedError(
          "the console's token is no longer valid: sign in again at /console/login",
        );
      return { principal, csrf: tokenCsrf(kept) };
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie === undefined || !options.signIn) return undefined;
    const session = options.signIn.readSession(cookie);
    return {
      principal: personPrincipal(session.identity, options.roles, { session: true }),
      csrf: session.csrf,
    };
  };
}

/** Who a token is: the bootstrap token, or a personal/service token that is neither expired nor revoked. */
export function tokenPrincipal(
  options: Pick<AuthenticateOptions, "apiToken" | "tokens">,
): (token: string) => Promise<Principal | undefined> {
  if (!options.apiToken)
    throw new Error("HOOKFLOW_API_TOKEN is not set: the API needs its bootstrap bearer token");
  const expected = createHash("sha256").update(options.apiToken).digest();
  return async (presented) =>
    timingSafeEqual(createHash("sha256").update(presented).digest(), expected)
      ? bootstrap
      : PersonalTokens.looksLikeToken(presented)
        ? await options.tokens.authenticate(presented)
        : undefined;
}

/**
 * Every /api request's caller (identifyCaller), required. A request made with a cookie that changes anything
 * must carry X-Hookflow-CSRF: a page of another site can make the browser send the cookie, never read the value.
 * Sets `principal`, `actor` (and `csrf`) for the routes.
 */
export function authenticate(options: AuthenticateOptions): MiddlewareHandler<{ Variables: Authenticated }> {
  const identify = identifyCaller(options);
  return async function requireCaller(c, next) {
    const caller = await identify(c);
    if (!caller)
      throw new UnauthorizedError(
        `missing Authorization: Bearer <token>${options.signIn ? " (or sign in at /auth/login)" : ""}`,
        "Bearer",
      );
    if (caller.csrf && !SAFE_METHODS.has(c.req.method) && !sameSecret(c.req.header(CSRF_HEADER), caller.csrf))
      throw new ForbiddenError(
        "a change made with the session cookie needs the X-Hookflow-CSRF header (its value: csrfToken from GET /api/me)",
      );
    setCaller(c, caller.principal, caller.csrf);
    return next();
  };
}

const bootstrap: Principal = { kind: "service", role: "admin", tokenId: "bootstrap", label: "bootstrap" };

function setCaller(c: Context<{ Variables: Authenticated }>, principal: Principal, csrf?: string): void {
  c.set("principal", principal);
  c.set("actor", actorOf(principal));
  if (csrf) c.set("csrf", csrf);
}

/** The actor a principal's commands carry, for the run's log. */
export function actorOf(principal: Principal): Actor {
  if (principal.kind === "service")
    return principal.tokenId === "bootstrap" ? BOOTSTRAP_TOKEN : { kind: "token", id: principal.tokenId };
  return {
    kind: "person",
    name: principal.identity.username,
    subject: principal.identity.subject,
    ...("tokenId" in principal.via && { tokenId: principal.via.tokenId }),
  };
}

export function sameSecret(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(presented), digest(expected));
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

/**
 * The relay's reports: HOOKFLOW_RELAY_TOKEN, compared in constant time. Unset, every request is refused (the
 * relay is optional). This token is accepted here and nowhere else: not as a task's, not as the API's.
 */
export function relayToken(token: string | undefined): MiddlewareHandler {
  const expected = token ? createHash("sha256").update(token).digest() : undefined;
  return async function requireRelayToken(c, next) {
    if (!expected)
      throw new ForbiddenError("no relay is configured: set HOOKFLOW_RELAY_TOKEN to accept relay reports");
    const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!presented)
      throw new UnauthorizedError("missing Authorization: Bearer <HOOKFLOW_RELAY_TOKEN>", "Bearer");
    if (!timingSafeEqual(createHash("sha256").update(presented).digest(), expected))
      throw new UnauthorizedError("the token does not match HOOKFLOW_RELAY_TOKEN", "Bearer");
    await next();
  };
}
