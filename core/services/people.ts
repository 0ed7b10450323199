import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from "../errors.js";
import {
  type Identity,
  type Principal,
  principalName,
  type RoleMap,
  roleIncludes,
  roleOf,
} from "../model/index.js";
import type { Claims, Clock, StoredToken, TokenStore } from "../ports.js";

const text = (value: unknown, max = 256): string | undefined =>
  typeof value === "string" && value.length > 0 ? value.slice(0, max) : undefined;

/**
 * A person from an OpenID provider's claims: username `preferred_username` else `sub`; an email only when the
 * provider says `email_verified: true` (an unverified email is anyone's claim); groups from `groups`.
 */
export function identityFromClaims(claims: Claims): Identity {
  const subject = text(claims.sub);
  if (!subject) throw new UnauthorizedError("the provider's answer names no subject (sub)");
  const email = claims.email_verified === true ? text(claims.email) : undefined;
  const name = text(claims.name);
  const groups = Array.isArray(claims.groups)
    ? claims.groups.filter((g): g is string => typeof g === "string" && g.length <= 256).slice(0, 100)
    : [];
  return {
    subject,
    username: text(claims.preferred_username) ?? subject,
    ...(name && { name }),
    ...(email && { email }),
    groups,
  };
}

/** A person named by an admin (`for`), where no sign-in is configured: known by username alone. */
export function namedPerson(username: string): Identity {
  return { subject: `local:${username}`, username, groups: [] };
}

export function personPrincipal(
  identity: Identity,
  roles: RoleMap,
  via: { session: true } | { tokenId: string },
): Principal {
  return { kind: "person", identity, role: roleOf(identity, roles), via };
}

/**
 * The identity an approval is recorded under: the principal itself. A service (the bootstrap token, or one of
 * its tokens) is no person and cannot approve; a `by` naming someone else is refused.
 */
export function approverOf(principal: Principal, by?: string): { by: string; email?: string } {
  if (principal.kind !== "person")
    throw new ForbiddenError(
      `${principal.label} is a service token, not a person: approve signed in, or with a personal token`,
    );
  const { username, email } = principal.identity;
  if (by !== undefined && ![username, email].some((n) => n?.toLowerCase() === by.toLowerCase()))
    throw new ForbiddenError(`"by" says ${by}, but this request is ${username}'s; leave "by" out`);
  return { by: username, ...(email && { email }) };
}

const TOKEN_FORMAT = /^hft_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
export const MAX_TOKEN_DAYS = 365;
export const DEFAULT_TOKEN_DAYS = 90;

export interface TokenRequest {
  name: string;
  expiresInDays?: number;
  /** Admins, where no sign-in is configured: a token acting as this person. */
  for?: string;
}

/** A token as listed: never its secret nor its hash. */
export interface TokenView {
  id: string;
  name: string;
  kind: "person" | "service";
  person?: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  revokedBy?: string;
}

export const tokenView = (t: StoredToken): TokenView => ({
  id: t.id,
  name: t.name,
  kind: t.kind,
  ...(t.identity && { person: t.identity.username }),
  createdBy: t.createdBy,
  createdAt: t.createdAt,
  expiresAt: t.expiresAt,
  ...(t.revokedAt && { revokedAt: t.revokedAt }),
  ...(t.revokedBy && { revokedBy: t.revokedBy }),
});

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

/**
 * Personal and service tokens: `hft_<id>_<secret>`, shown once, stored as the secret's SHA-256. A person's token
 * acts as them, with the roles HOOKFLOW_ROLES gives them when it is used (never more); a token created by a
 * service is a service token. Checked against the store on every use, so a revocation counts at once.
 */
export class PersonalTokens {
  constructor(
    private readonly deps: {
      store: TokenStore;
      clock: Clock;
      roles: RoleMap;
      /** Whether people sign in through a provider (then `for` is refused: they get their own tokens). */
      signInConfigured: boolean;
    },
  ) {}

  async create(
    principal: Principal,
    request: TokenRequest,
  ): Promise<{ id: string; token: string } & TokenView> {
    const days = request.expiresInDays ?? DEFAULT_TOKEN_DAYS;
    const identity = this.identityFor(principal, request.for);
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    const now = this.deps.clock.now();
    const stored: StoredToken = {
      id,
      name: request.name,
      hash: sha256(secret),
      kind: identity ? "person" : "service",
      ...(identity && { identity }),
      createdBy: principalName(principal),
      createdAt: now,
      expiresAt: new Date(Date.parse(now) + days * 86_400_000).toISOString(),
    };
    await this.deps.store.create(stored);
    return { ...tokenView(stored), token: `hft_${id}_${secret}` };
  }

  /** Whom a new token acts as: the person asking, the person an admin names, or nobody (a service token). */
  private identityFor(principal: Principal, named: string | undefined): Identity | undefined {
    if (named === undefined) return principal.kind === "person" ? principal.identity : undefined;
    if (!roleIncludes(principal.role, "admin"))
      throw new ForbiddenError(`a token for someone else needs the admin role`);
    if (this.deps.signInConfigured)
      throw new ValidationError("invalid request", [
        { path: "for", message: `sign-in is configured: ${named} signs in and creates their own tokens` },
      ]);
    return namedPerson(named);
  }

  /** The caller's own tokens (a service sees the service tokens). */
  async list(principal: Principal): Promise<TokenView[]> {
    const owner = principal.kind === "person" ? principal.identity.subject : "service";
    return (await this.deps.store.list(owner)).map(tokenView);
  }

  /** The caller's own token, or (admins) anyone's; another person's token is not found for a non-admin. */
  async revoke(principal: Principal, id: string): Promise<TokenView> {
    const token = /^[a-f0-9]{16}$/.test(id) ? await this.deps.store.get(id) : undefined;
    const own =
      token &&
      (principal.kind === "person"
        ? token.identity?.subject === principal.identity.subject
        : token.kind === "service");
    if (!token || (!own && !roleIncludes(principal.role, "admin"))) throw new NotFoundError(`no token ${id}`);
    const revoked = await this.deps.store.revoke(id, this.deps.clock.now(), principalName(principal));
    if (!revoked) throw new NotFoundError(`no token ${id}`);
    return tokenView(revoked);
  }

  /** Whether `presented` looks like one of these tokens (else it is for another check, or nothing). */
  static looksLikeToken(presented: string): boolean {
    return TOKEN_FORMAT.test(presented);
  }

  /** The principal a token acts as; 401 with the reason for an unknown, wrong, expired or revoked one. */
  async authenticate(presented: string): Promise<Principal> {
    const [, id, secret] = TOKEN_FORMAT.exec(presented) ?? [];
    if (!id || !secret) throw new UnauthorizedError("not a hookflow token", "Bearer");
    const token = await this.deps.store.get(id);
    const matches =
      token !== undefined &&
      timingSafeEqual(Buffer.from(sha256(secret), "hex"), Buffer.from(token.hash.padEnd(64, "0"), "hex"));
    if (!token || !matches) throw new UnauthorizedError("unknown token", "Bearer");
    if (token.revokedAt)
      throw new UnauthorizedError(
        `token ${id} was revoked at ${token.revokedAt} by ${token.revokedBy}`,
        "Bearer",
      );
    if (token.expiresAt <= this.deps.clock.now())
      throw new UnauthorizedError(`token ${id} expired at ${token.expiresAt}`, "Bearer");
    if (token.kind === "service" || !token.identity)
      return { kind: "service", role: "admin", tokenId: id, label: `service:${token.name}` };
    return personPrincipal(token.identity, this.deps.roles, { tokenId: id });
  }

  /** Starts a CLI login's exchange: the code the browser hands over (or the person pastes). */
  async issueLoginCode(identity: Identity, challenge: string): Promise<string> {
    const code = randomBytes(24).toString("base64url");
    const expiresAt = new Date(Date.parse(this.deps.clock.now()) + 10 * 60_000).toISOString();
    await this.deps.store.putLogin({ codeHash: sha256(code), challenge, identity, expiresAt });
    return code;
  }

  /** The CLI trades its one-time code and the verifier behind its challenge for a personal token. */
  async exchangeLoginCode(
    code: string,
    verifier: string,
    name: string,
  ): Promise<{ id: string; token: string; identity: Identity } & TokenView> {
    const login = await this.deps.store.takeLogin(sha256(code), this.deps.clock.now());
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    if (!login || !safeEqual(challenge, login.challenge))
      throw new UnauthorizedError("this login code is unknown, used or expired: run `hookflow login` again");
    const principal = personPrincipal(login.identity, this.deps.roles, { tokenId: "login" });
    return { ...(await this.create(principal, { name })), identity: login.identity };
  }
}

function safeEqual(a: string, b: string): boolean {
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** An HMAC key for one purpose, derived from the deployment's secret (HOOKFLOW_TOKEN_SECRET). */
export function derivedKey(secret: string, purpose: string): Buffer {
  return createHmac("sha256", secret).update(`hookflow:${purpose}`).digest();
}
