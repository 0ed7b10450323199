import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import type * as z from "zod";
import { MAX_API_BODY_BYTES } from "./api.js";
import * as R from "./api-responses.js";
import type { RouteList } from "./openapi-route.js";

/**
 * The API's OpenAPI 3.1 document, generated from its routes' schemas. Loaded on the first request for it (a
 * dynamic import): zod-to-openapi and the answers' schemas stay out of the API's cold start (issue 20).
 */

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/** What a route's `responses` are written with: the answers' schemas and the shared error answers. */
export const docKit = {
  ...R,
  json,
  errors: {
    400: json(R.ErrorResponse, "invalid input, with the path of each problem"),
    401: json(R.ErrorResponse, "missing, unknown, expired or revoked token; a forged or expired session"),
    403: json(R.ErrorResponse, "the caller's role is too low (the message names the role needed)"),
    404: json(R.ErrorResponse, "not found"),
    413: json(R.ErrorResponse, `a body over ${MAX_API_BODY_BYTES / 1024} KB`),
  },
  conflict: { 409: json(R.ErrorResponse, "the run's state does not allow it") },
};
export type DocKit = typeof docKit;

export function openApiDocument(routes: RouteList): unknown {
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  registry.registerComponent("securitySchemes", "session", {
    type: "apiKey",
    in: "cookie",
    name: "hookflow_session",
    description: "after GET /auth/login; every POST, PUT and DELETE also needs X-Hookflow-CSRF",
  });
  for (const route of routes)
    registry.registerPath({ ...route, responses: route.responses(docKit) } as Parameters<
      typeof registry.registerPath
    >[0]);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "hookflow",
      version: "1",
      description:
        "Pipelines, job templates and runs. Every /api route needs a caller: Authorization: Bearer <HOOKFLOW_API_TOKEN or a token from POST /api/tokens>, or the session cookie of a person signed in at /auth/login (then POST, PUT and DELETE also need X-Hookflow-CSRF). Roles: viewer reads; operator starts, cancels and reruns runs; admin changes definitions and reads the audit. Approvals are a person's: one named in the task's approvers.",
    },
  });
}
