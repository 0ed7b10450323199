import * as oidc from "openid-client";
import { RetryableError, UnauthorizedError } from "../errors.js";
import type { Claims, SignInProvider } from "../ports.js";

export interface OidcOptions {
  issuer: string;
  clientId: string;
  /** Absent for a public client (PKCE alone). */
  clientSecret?: string;
  /** Seconds for each request to the provider. */
  timeoutSeconds?: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * Any standard OpenID provider, through `openid-client`: discovered on first use (and again after a failure, so a
 * provider that was down is found once it is back), the code exchanged with PKCE, the ID token checked, and the
 * userinfo claims merged in when the provider has that endpoint. Plain `http` is allowed only for a provider
 * on this machine (the local one `npm start` runs); everywhere else an `http` issuer is refused by the library.
 */
export function createOidcProvider(options: OidcOptions): SignInProvider {
  const issuer = new URL(options.issuer);
  const insecureAllowed = issuer.protocol === "http:" && LOOPBACK.has(issuer.hostname);
  let configuration: Promise<oidc.Configuration> | undefined;
  const discover = () => {
    configuration ??= oidc
      .discovery(
        issuer,
        options.clientId,
        undefined,
        options.clientSecret ? oidc.ClientSecretBasic(options.clientSecret) : oidc.None(),
        {
          timeout: options.timeoutSeconds ?? 10,
          ...(insecureAllowed && { execute: [oidc.allowInsecureRequests] }),
        },
      )
      .catch((error: unknown) => {
        configuration = undefined;
        throw new RetryableError(
          `sign-in is unavailable: the provider at ${issuer.origin} (HOOKFLOW_OIDC_ISSUER) did not answer its discovery document (${reason(error)}); API tokens still work`,
          30,
          { cause: error },
        );
      });
    return configuration;
  };

  return {
    async authorizationUrl(request) {
      return oidc.buildAuthorizationUrl(await discover(), {
        redirect_uri: request.redirectUri,
        scope: "openid profile email groups",
        response_type: "code",
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.codeChallenge,
        code_challenge_method: "S256",
      });
    },

    async exchange(callbackUrl, expected): Promise<Claims> {
      const config = await discover();
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: expected.codeVerifier,
          expectedState: expected.state,
          expectedNonce: expected.nonce,
          idTokenExpected: true,
        });
      } catch (error) {
        if (isUnreachable(error))
          throw new RetryableError(`sign-in failed: the provider did not answer (${reason(error)})`, 30, {
            cause: error,
          });
        throw new UnauthorizedError(`sign-in failed: ${reason(error)}`);
      }
      const claims: Claims = { ...tokens.claims() };
      if (config.serverMetadata().userinfo_endpoint && typeof claims.sub === "string") {
        // Many providers put profile claims only in userinfo; the ID token's subject binds them to this person.
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub).catch(() => undefined);
        if (info) Object.assign(claims, info, { sub: claims.sub });
      }
      return claims;
    },
  };
}

function isUnreachable(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } })?.cause;
  return (
    error instanceof TypeError ||
    (error as { name?: string })?.name === "TimeoutError" ||
    typeof cause?.code === "string"
  );
}

function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ? `${message}: ${cause.code}` : message;
}
