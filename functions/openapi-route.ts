import type { Context, Env, Hono, MiddlewareHandler, ValidationTargets } from "hono";
import { HTTPException } from "hono/http-exception";
import { validator } from "hono/validator";
import type * as z from "zod/mini";
import { ValidationError } from "../core/errors.js";
import { formatPath } from "../core/model/index.js";
import type { DocKit } from "./api-openapi.js";

/**
 * A route of the API as its OpenAPI document describes it (the shape of @hono/zod-openapi's `createRoute`), with
 * its answers given as a function of the document's schemas: they are built only with the document, while what
 * the route reads is validated on every request. This replaces @hono/zod-openapi on the request path, whose
 * import extends the whole `z` namespace and so starts the API with all of zod and its 64 locales (issue 20).
 */
export interface RouteSpec {
  method: "get" | "put" | "post" | "delete";
  /** OpenAPI's form: `/api/runs/{id}`. */
  path: string;
  security?: Array<Record<string, string[]>>;
  description?: string;
  request?: {
    params?: z.ZodMiniType;
    query?: z.ZodMiniType;
    body?: {
      required?: boolean;
      description?: string;
      content: Record<string, { schema: z.ZodMiniType }>;
    };
  };
  responses: (doc: DocKit) => Record<number, unknown>;
}

type Output<S> = S extends z.ZodMiniType ? z.output<S> : never;
type JsonBody<B> = B extends { content: { "application/json": { schema: infer S } } } ? Output<S> : never;
/** What `c.req.valid(target)` gives a route's handler. */
export type ValidOf<R extends RouteSpec["request"]> = {
  out: R extends object
    ? { param: Output<R["params"]>; query: Output<R["query"]>; json: JsonBody<R["body"]> }
    : Record<never, never>;
};

/** The routes an app serves in its OpenAPI document, in the order they were added. */
export type RouteList = RouteSpec[];

/**
 * Adds `spec`'s route to `app` and to `routes`, validating as @hono/zod-openapi's `app.openapi` does: the path's
 * params, the query, and a JSON body (refused with 415 when another media type is sent; an optional JSON body
 * that is absent validates as `{}`). A failed check is a ValidationError naming each field's path (a 400).
 */
export function openApiRoute<E extends Env, const S extends RouteSpec>(
  app: Hono<E>,
  routes: RouteList,
  spec: S,
  handler: (c: Context<E, string, ValidOf<S["request"]>>) => Response | Promise<Response>,
): void {
  routes.push(spec);
  const checks: MiddlewareHandler[] = [];
  const { request } = spec;
  if (request?.query) checks.push(validated("query", request.query));
  if (request?.params) checks.push(validated("param", request.params));
  const content = request?.body?.content ?? {};
  const mediaTypes = Object.keys(content);
  if (mediaTypes.some((type) => isJsonType(type) || isFormType(type)))
    checks.push(async (c, next) => {
      const contentType = c.req.header("content-type");
      if (contentType ? !mediaTypes.some((type) => matchesMediaType(contentType, type)) : await hasBody(c))
        throw new HTTPException(415, { message: "Unsupported Media Type" });
      await next();
    });
  for (const type of mediaTypes.filter(isJsonType)) {
    const check = validated("json", content[type]?.schema as z.ZodMiniType);
    checks.push(
      request?.body?.required
        ? check
        : async (c, next) => {
            const contentType = c.req.header("content-type");
            if (contentType && isJsonType(contentType)) return check(c, next);
            c.req.addValidatedData("json", {});
            await next();
          },
    );
  }
  const path = spec.path.replaceAll(/\/{(.+?)}/g, "/:$1");
  app.on([spec.method], [path], ...checks, handler as never);
}

function validated(target: keyof ValidationTargets, schema: z.ZodMiniType): MiddlewareHandler {
  return validator(target, async (value) => {
    const result = await schema.safeParseAsync(value);
    if (!result.success)
      throw new ValidationError(
        "invalid request",
        result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
      );
    return result.data;
  });
}

// How @hono/zod-openapi matches a request's Content-Type to a declared media type (its index.mjs, 1.6).
const isJsonType = (type: string) => /^application\/([a-z-.]+\+)?json/i.test(type);
const isFormType = (type: string) =>
  /^(multipart\/form-data|application\/x-www-form-urlencoded)/i.test(type.toLowerCase());
const JSON_REQUEST = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;
const MULTIPART_REQUEST = /^multipart\/form-data(;\s?boundary=[a-zA-Z0-9'"()+_,\-./:=?]+)?$/i;
const URLENCODED_REQUEST = /^application\/x-www-form-urlencoded(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

function matchesMediaType(contentType: string, mediaType: string): boolean {
  if (mediaType === "*/*") return true;
  if (isJsonType(mediaType)) return JSON_REQUEST.test(contentType);
  if (isFormType(mediaType))
    return MULTIPART_REQUEST.test(contentType) || URLENCODED_REQUEST.test(contentType);
  const essence = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  if (mediaType.endsWith("/*")) return essence.startsWith(mediaType.slice(0, -1).toLowerCase());
  return essence === mediaType.toLowerCase();
}

async function hasBody(c: Context): Promise<boolean> {
  const raw = c.req.raw;
  if (raw.body === null) return false;
  if (raw.bodyUsed) return (await c.req.arrayBuffer()).byteLength > 0;
  const body = raw.clone().body;
  if (body === null) return false;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (value.byteLength > 0) return true;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
