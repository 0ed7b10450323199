import type { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ValidationError } from "../core/errors.js";
import type { RoleMap } from "../core/model/index.js";
import { formatPath } from "../core/model/index.js";
import type { AccessControl } from "../core/services/access.js";
import { type PersonalTokens, personPrincipal } from "../core/services/people.js";
import { CliLoginRequest, LOGIN_SECONDS, type SignIn } from "../core/services/signin.js";
import { CliExchangeBody } from "./api-schemas.js";
import { type Authenticated, CSRF_COOKIE, SESSION_COOKIE } from "./auth.js";
import { limitBody } from "./http.js";

const SIGN_IN_COOKIE = "hookflow_signin";

export interface SignInRoutesDeps {
  signIn?: SignIn;
  tokens: PersonalTokens;
  access: AccessControl;
  roles: RoleMap;
}

/**
 * The console's sign-in (`/auth/login` → the provider → `/auth/callback`, `/auth/logout`) and the end of a
 * `hookflow login` (`/auth/cli/token`). Cookies are HTTP-only and SameSite=Lax (the provider's redirect back is
 * a top-level navigation from its site, which Lax lets through), Secure when HOOKFLOW_PUBLIC_URL is https.
 */
export function mountSignIn(app: Hono<{ Variables: Authenticated }>, deps: SignInRoutesDeps): void {
  const secure = (c: { req: { url: string } }) => new URL(c.req.url).protocol === "https:";
  app.use("/auth/*", limitBody(4096, "an /auth body"));

  app.get("/auth/login", async (c) => {
    const signIn = requireSignIn(deps.signIn);
    const query = c.req.query();
    const cli =
      query.cli_challenge !== undefined
        ? parse(CliLoginRequest, {
            port: query.cli_port,
            challenge: query.cli_challenge,
            state: query.cli_state,
          })
        : undefined;
    const { redirect, loginCookie } = await signIn.begin({
      ...(query.return !== undefined && { returnTo: query.return }),
      ...(cli && { cli }),
    });
    setCookie(c, SIGN_IN_COOKIE, loginCookie, {
      httpOnly: true,
      sameSite: "Lax",
      path: "/auth",
      maxAge: LOGIN_SECONDS,
      secure: secure(c),
    });
    return c.redirect(redirect.toString(), 302);
  });

  app.get("/auth/callback", async (c) => {
    const signIn = requireSignIn(deps.signIn);
    const query = new URL(c.req.url).search;
    const done = await signIn.finish(query, getCookie(c, SIGN_IN_COOKIE));
    deleteCookie(c, SIGN_IN_COOKIE, { path: "/auth" });
    if (done.kind === "cli-redirect") return c.redirect(done.redirect, 302);
    if (done.kind === "cli-code")
      return c.html(
        `<!doctype html><title>hookflow login</title><p>Paste this one-time code into <code>hookflow login</code> (valid 10 minutes):</p><pre id="code">${done.code}</pre>`,
      );
    const maxAge = signIn.sessionSeconds;
    setCookie(c, SESSION_COOKIE, done.cookie, {
      httpOnly: true,
      sameSite: "Lax",
      path: "/",
      maxAge,
      secure: secure(c),
    });
    // Readable by the console's script, which sends it back as X-Hookflow-CSRF; another site cannot read it.
    setCookie(c, CSRF_COOKIE, done.csrf, { sameSite: "Strict", path: "/", maxAge, secure: secure(c) });
    return c.redirect(done.redirect, 302);
  });

  app.post("/auth/logout", (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    deleteCookie(c, CSRF_COOKIE, { path: "/" });
    return c.body(null, 204);
  });

  app.post("/auth/cli/token", async (c) => {
    const body = parse(CliExchangeBody, await c.req.json().catch(() => undefined));
    const created = await deps.tokens.exchangeLoginCode(
      body.code,
      body.verifier,
      body.name ?? "hookflow login",
    );
    if (created.identity) {
      const principal = personPrincipal(created.identity, deps.roles, { tokenId: created.id });
      await deps.access.note(
        principal,
        { action: "token.create", target: "token", role: "viewer" },
        {
          token: created.id,
          via: "hookflow login",
        },
      );
    }
    const { identity: _identity, ...shown } = created;
    return c.json(shown, 201);
  });
}

function requireSignIn(signIn: SignIn | undefined): SignIn {
  if (!signIn)
    throw new ValidationError(
      "sign-in is not configured here (HOOKFLOW_OIDC_ISSUER): use a token an admin creates for you",
    );
  return signIn;
}

function parse<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
  },
  value: unknown,
): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new ValidationError(
      "invalid request",
      result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  return result.data;
}
