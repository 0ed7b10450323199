import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import * as z from "zod/mini";
import { ConflictError, UnauthorizedError, ValidationError } from "../errors.js";
import { Identity } from "../model/index.js";
import { schema } from "../model/schema.js";
import type { Clock, SignInProvider } from "../ports.js";
import { derivedKey, identityFromClaims, type PersonalTokens } from "./people.js";

/**
 * Values hookflow hands a browser and reads back, signed (HMAC-SHA256 under a key of their own purpose) and with
 * an expiry inside what is signed: the session, and a sign-in in progress. No store holds them.
 */
export class SealedValues {
  private readonly key: Buffer;
  constructor(
    secret: string,
    private readonly purpose: string,
  ) {
    this.key = derivedKey(secret, purpose);
  }

  seal(payload: object, expiresAt: string): string {
    const body = Buffer.from(JSON.stringify({ ...payload, exp: expiresAt })).toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  /** The payload, or a 401 saying the value is forged (or from another deployment) or expired. */
  open<T extends z.ZodMiniType>(value: string, schema: T, now: string, what: string): z.infer<T> {
    const [body, mac, ...rest] = value.split(".");
    const expected = body ? this.mac(body) : "";
    if (!body || !mac || rest.length > 0 || mac.length !== expected.length)
      throw new UnauthorizedError(`the ${what} is not valid: sign in again`);
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(expected)))
      throw new UnauthorizedError(`the ${what} is not valid (not signed by this hookflow): sign in again`);
    const parsed = z.intersection(schema, z.object({ exp: z.string() })).safeParse(safeJson(body));
    if (!parsed.success) throw new UnauthorizedError(`the ${what} is not valid: sign in again`);
    const { exp } = parsed.data as { exp: string };
    if (exp <= now) throw new UnauthorizedError(`the ${what} expired at ${exp}: sign in again`);
    return parsed.data;
  }

  /** A value bound to this key for another purpose (the CSRF token of a session). */
  derive(purpose: string, value: string): string {
    return createHmac("sha256", this.key).update(`${purpose}:${value}`).digest("base64url");
  }

  private mac(body: string): string {
    return createHmac("sha256", this.key).update(`${this.purpose}.${body}`).digest("base64url");
  }
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

const SessionPayload = /* @__PURE__ */ schema(() => z.object({ sid: z.string(), identity: Identity }));
const LoginPayload = /* @__PURE__ */ schema(() =>
  z.object({
    state: z.string(),
    nonce: z.string(),
    verifier: z.string(),
    returnTo: z.string(),
    cli: z.optional(z.object({ port: z.optional(z.int()), challenge: z.string(), state: z.string() })),
  }),
);
type LoginPayload = z.infer<typeof LoginPayload>;

export interface Session {
  identity: Identity;
  /** What a state-changing request made with this session must send in X-Hookflow-CSRF. */
  csrf: string;
}

/** A `hookflow login` in progress: where its loopback listener waits (absent: the person pastes a code). */
export interface CliLogin {
  port?: number;
  /** base64url SHA-256 of the CLI's verifier. */
  challenge: string;
  /** The CLI's own state, echoed to its listener. */
  state: string;
}

export type SignedIn =
  | { kind: "session"; cookie: string; csrf: string; expiresAt: string; redirect: string }
  | { kind: "cli-redirect"; redirect: string }
  | { kind: "cli-code"; code: string };

export const LOGIN_SECONDS = 10 * 60;
export const CliLoginRequest = /* @__PURE__ */ schema(() =>
  z.object({
    port: z.optional(z.coerce.number().check(z.int(), z.gte(1024), z.lte(65535))),
    challenge: z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, "base64url SHA-256 of the verifier")),
    state: z.string().check(z.regex(/^[A-Za-z0-9_-]{8,128}$/)),
  }),
);

/**
 * Sign-in with OpenID Connect (authorization code with PKCE) and the session it leaves: a signed cookie holding
 * who the person is, with an expiry; no session store. The same sign-in ends a `hookflow login`, by a one-time
 * code handed to the CLI's loopback listener (RFC 8252) or shown for the person to paste.
 */
export class SignIn {
  private readonly sessions: SealedValues;
  private readonly logins: SealedValues;

  constructor(
    private readonly deps: {
      provider: SignInProvider | undefined;
      secret: string;
      clock: Clock;
      publicUrl: string;
      sessionSeconds: number;
      tokens: PersonalTokens;
    },
  ) {
    this.sessions = new SealedValues(deps.secret, "session");
    this.logins = new SealedValues(deps.secret, "sign-in");
  }

  get redirectUri(): string {
    return `${this.deps.publicUrl}/auth/callback`;
  }

  private provider(): SignInProvider {
    if (!this.deps.provider)
      throw new ConflictError(
        "sign-in is not configured (HOOKFLOW_OIDC_ISSUER): use a token an admin creates for you",
      );
    return this.deps.provider;
  }

  /** Where to send the browser, and the sealed state the callback checks (a short-lived cookie). */
  async begin(request: {
    returnTo?: string;
    cli?: CliLogin;
  }): Promise<{ redirect: URL; loginCookie: string }> {
    const provider = this.provider();
    const login: LoginPayload = {
      state: random(),
      nonce: random(),
      verifier: random(),
      returnTo: safeReturnTo(request.returnTo),
      ...(request.cli && { cli: request.cli }),
    };
    const redirect = await provider.authorizationUrl({
      redirectUri: this.redirectUri,
      state: login.state,
      nonce: login.nonce,
      codeChallenge: createHash("sha256").update(login.verifier).digest("base64url"),
    });
    return { redirect, loginCookie: this.logins.seal(login, this.after(LOGIN_SECONDS)) };
  }

  /** The provider's redirect back: checked against the sealed state, then a session (or a CLI's code). */
  async finish(callbackQuery: string, loginCookie: string | undefined): Promise<SignedIn> {
    if (!loginCookie)
      throw new UnauthorizedError(
        "no sign-in in progress in this browser (or it took over 10 minutes): sign in again",
      );
    const login = this.logins.open(loginCookie, LoginPayload, this.deps.clock.now(), "sign-in");
    const claims = await this.provider().exchange(new URL(`${this.redirectUri}${callbackQuery}`), {
      state: login.state,
      nonce: login.nonce,
      codeVerifier: login.verifier,
    });
    const identity = identityFromClaims(claims);
    if (login.cli) {
      const code = await this.deps.tokens.issueLoginCode(identity, login.cli.challenge);
      if (login.cli.port === undefined) return { kind: "cli-code", code };
      const target = new URL(`http://127.0.0.1:${login.cli.port}/callback`);
      target.searchParams.set("code", code);
      target.searchParams.set("state", login.cli.state);
      return { kind: "cli-redirect", redirect: target.toString() };
    }
    const sid = random();
    const expiresAt = this.after(this.deps.sessionSeconds);
    return {
      kind: "session",
      cookie: this.sessions.seal({ sid, identity }, expiresAt),
      csrf: this.sessions.derive("csrf", sid),
      expiresAt,
      redirect: login.returnTo,
    };
  }

  /** The person behind a session cookie; 401 for a forged or expired one. */
  readSession(cookie: string): Session {
    const { sid, identity } = this.sessions.open(
      cookie,
      SessionPayload,
      this.deps.clock.now(),
      "session cookie",
    );
    return { identity, csrf: this.sessions.derive("csrf", sid) };
  }

  get sessionSeconds(): number {
    return this.deps.sessionSeconds;
  }

  private after(seconds: number): string {
    return new Date(Date.parse(this.deps.clock.now()) + seconds * 1000).toISOString();
  }
}

const random = () => randomBytes(32).toString("base64url");

/** Only a path of this site: never another origin (`//evil.example`, `https://…`), so sign-in redirects nowhere else. */
function safeReturnTo(returnTo: string | undefined): string {
  if (returnTo === undefined) return "/";
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(returnTo) || returnTo.length > 512)
    throw new ValidationError("invalid request", [
      { path: "return", message: "a path on this site, starting with a single /" },
    ]);
  return returnTo;
}
