import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

/** A demo person of the local provider. */
export interface DemoUser {
  password: string;
  name: string;
  email: string;
  groups: string[];
}

export interface LocalProviderOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  users: Record<string, DemoUser>;
  /** 0 (default): any free port. */
  port?: number;
}

export interface LocalProvider {
  issuer: string;
  close(): Promise<void>;
}

/** alice (admin), bob (operator), carol (viewer): the local stack's HOOKFLOW_ROLES defaults name them. */
export function demoUsers(): Record<string, DemoUser> {
  const password = () => randomBytes(9).toString("base64url");
  return {
    alice: { password: password(), name: "Alice", email: "alice@example.com", groups: ["platform"] },
    bob: { password: password(), name: "Bob", email: "bob@example.com", groups: ["dev"] },
    carol: { password: password(), name: "Carol", email: "carol@example.com", groups: [] },
  };
}
export const DEMO_ROLES = { admin: ["group:platform"], operator: ["group:dev"], viewer: ["*"] };

const MAX_FORM_BYTES = 4096;

/**
 * A certified OpenID provider (`oidc-provider`) on loopback, with named demo people and a login form of its
 * own: what `npm start` signs in against, and what the tests drive over HTTP. Their emails are verified and
 * their `groups` claim is set, as a company provider would.
 */
export async function startLocalProvider(options: LocalProviderOptions): Promise<LocalProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { users } = options;
  const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    jwks: { keys: [{ ...signingKey, use: "sig", alg: "RS256", kid: "local" }] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    scopes: ["openid", "profile", "email", "groups"],
    claims: {
      openid: ["sub"],
      profile: ["preferred_username", "name"],
      email: ["email", "email_verified"],
      groups: ["groups"],
    },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    async findAccount(_ctx, id) {
      const user = users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          preferred_username: id,
          name: user.name,
          email: user.email,
          email_verified: true,
          groups: user.groups,
        }),
      };
    },
    // hookflow is this provider's own client: no consent screen, the grant is made on sign-in.
    async loadExistingGrant(ctx) {
      const grantId =
        ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(ctx.oidc.client?.clientId ?? "");
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client?.clientId ?? "",
        accountId: ctx.oidc.session?.accountId ?? "",
      });
      grant.addOIDCScope("openid profile email groups");
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(req.url?.split("?")[0] ?? "");
    if (!match) return callback(req, res);
    handleInteraction(provider, users, req, res, match[1] as string, match[2] !== undefined).catch(
      (error) => {
        res.statusCode = 400;
        res.setHeader("content-type", "text/plain");
        res.end(`sign-in failed: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  });
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handleInteraction(
  provider: Provider,
  users: Record<string, DemoUser>,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  submitted: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error("this sign-in belongs to another browser session");
  if (!submitted || req.method !== "POST") return loginForm(res, uid);
  const form = new URLSearchParams(await readBody(req));
  const login = form.get("login") ?? "";
  const user = Object.hasOwn(users, login) ? users[login] : undefined;
  if (!user || !samePassword(form.get("password") ?? "", user.password))
    return loginForm(res, uid, "wrong username or password", 401);
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: login } },
    { mergeWithLastSubmission: false },
  );
}

function samePassword(presented: string, expected: string): boolean {
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function loginForm(res: ServerResponse, uid: string, error?: string, status = 200): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.end(`<!doctype html><title>Sign in (hookflow local provider)</title>
<h1>Sign in</h1>${error ? `<p role="alert">${error}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new Error("form too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
