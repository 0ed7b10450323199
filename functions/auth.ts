import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorBody } from "./http.js";

/**
 * `Authorization: Bearer <token>`, compared in constant time (both sides hashed, so lengths never leak). Built
 * once with its token: a missing token is a configuration error at start, not a 401 on every request.
 */
export function bearerToken(token: string | undefined, variable: string): MiddlewareHandler {
  if (!token) throw new Error(`${variable} is not set: the API needs a bearer token`);
  const expected = createHash("sha256").update(token).digest();
  return async function requireBearerToken(c, next) {
    const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!presented)
      return c.json(errorBody(`missing Authorization: Bearer <${variable}>`), 401, {
        "WWW-Authenticate": "Bearer",
      });
    if (!timingSafeEqual(createHash("sha256").update(presented).digest(), expected))
      return c.json(errorBody(`the token does not match ${variable}`), 401, { "WWW-Authenticate": "Bearer" });
    await next();
  };
}
