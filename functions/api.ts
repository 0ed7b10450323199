import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import * as z from "zod";
import { ValidationError } from "../core/errors.js";
import { type Actor, formatPath, JobTemplate, LIMITS, Pipeline } from "../core/model/index.js";
import type { Logger } from "../core/ports.js";
import type { RunControl } from "../core/services/control.js";
import type { DefinitionService } from "../core/services/definitions.js";
import { apiDeps, lazyHandler } from "../core/wiring.js";
import * as S from "./api-schemas.js";
import { bearerToken } from "./auth.js";
import { installErrorHandler, limitBody } from "./http.js";

/**
 * Every /api body is read only up to this: a definition is at most 48 KB as JSON (LIMITS.pipelineBytes), and the
 * same definition as YAML, with comments and indentation, takes more; twice that leaves room for it while
 * bounding what the parsers ever see.
 */
export const MAX_API_BODY_BYTES = 2 * LIMITS.pipelineBytes;

export interface ApiDeps {
  definitions: DefinitionService;
  runs: RunControl;
  apiToken: string | undefined;
  log: Logger;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const errors = {
  400: json(S.ErrorResponse, "invalid input, with the path of each problem"),
  401: json(S.ErrorResponse, "missing or wrong bearer token"),
  404: json(S.ErrorResponse, "not found"),
  413: json(S.ErrorResponse, `a body over ${MAX_API_BODY_BYTES / 1024} KB`),
};
const definitionBody = (schema: z.ZodType, what: string) => ({
  required: true,
  description: `the ${what} as YAML or JSON (JSON is YAML); errors name each field's path and line`,
  content: { "application/yaml": { schema } },
});
const security = [{ bearer: [] }];

/** Every /api route of the contract, and its OpenAPI 3.1 document generated from the same schemas. */
export function createApiApp(deps: ApiDeps): OpenAPIHono<{ Variables: { actor: Actor } }> {
  const app = new OpenAPIHono<{ Variables: { actor: Actor } }>({
    defaultHook: (result) => {
      if (!result.success)
        throw new ValidationError(
          "invalid request",
          result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
        );
    },
  });
  installErrorHandler(app, deps.log);
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.use("/api/*", bearerToken(deps.apiToken, "HOOKFLOW_API_TOKEN"));
  app.use("/api/*", limitBody(MAX_API_BODY_BYTES, "an /api body"));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  // ---------------------------------------------------------------- pipelines and job templates
  app.openapi(
    createRoute({
      method: "put",
      path: "/api/pipelines/{name}",
      security,
      request: { params: S.NameParam, body: definitionBody(Pipeline, "pipeline") },
      responses: { 200: json(S.PipelineSaved, "replaced"), 201: json(S.PipelineSaved, "created"), ...errors },
    }),
    async (c) => {
      const saved = await deps.definitions.putPipeline(c.req.valid("param").name, await c.req.text());
      return c.json({ pipeline: saved.value, warnings: saved.warnings }, saved.created ? 201 : 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/pipelines",
      security,
      responses: { 200: json(S.PipelineList, "all pipelines"), ...errors },
    }),
    async (c) => c.json({ items: await deps.definitions.listPipelines() }, 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/pipelines/{name}",
      security,
      request: { params: S.NameParam },
      responses: { 200: json(Pipeline, "the pipeline, sensitive values masked"), ...errors },
    }),
    async (c) => c.json(await deps.definitions.getPipeline(c.req.valid("param").name), 200),
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/pipelines/{name}",
      security,
      request: { params: S.NameParam },
      responses: { 204: { description: "deleted" }, ...errors },
    }),
    async (c) => {
      await deps.definitions.deletePipeline(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );
  app.openapi(
    createRoute({
      method: "put",
      path: "/api/jobs/{name}",
      security,
      request: { params: S.NameParam, body: definitionBody(JobTemplate, "job template") },
      responses: { 200: json(S.JobSaved, "replaced"), 201: json(S.JobSaved, "created"), ...errors },
    }),
    async (c) => {
      const saved = await deps.definitions.putJob(c.req.valid("param").name, await c.req.text());
      return c.json({ job: saved.value, warnings: saved.warnings }, saved.created ? 201 : 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/jobs",
      security,
      responses: { 200: json(S.JobList, "all job templates"), ...errors },
    }),
    async (c) => c.json({ items: await deps.definitions.listJobs() }, 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/jobs/{name}",
      security,
      request: { params: S.NameParam },
      responses: { 200: json(JobTemplate, "the job template"), ...errors },
    }),
    async (c) => c.json(await deps.definitions.getJob(c.req.valid("param").name), 200),
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/jobs/{name}",
      security,
      request: { params: S.NameParam },
      responses: {
        204: { description: "deleted" },
        409: json(S.ErrorResponse.extend({ pipelines: z.array(z.string()) }), "in use by these pipelines"),
        ...errors,
      },
    }),
    async (c) => {
      await deps.definitions.deleteJob(c.req.valid("param").name);
      return c.body(null, 204);
    },
  );

  // ---------------------------------------------------------------- runs
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/pipelines/{name}/runs",
      security,
      request: {
        params: S.NameParam,
        body: { required: false, content: { "application/json": { schema: S.ManualRunBody } } },
      },
      responses: { 201: json(S.RunView, "the new run; sensitive params masked"), ...errors },
    }),
    async (c) => {
      const body = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      return c.json(await deps.runs.start(c.req.valid("param").name, body, c.get("actor")), 201);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/runs",
      security,
      request: { query: S.RunQuery },
      responses: { 200: json(S.RunList, "runs, newest first"), ...errors },
    }),
    async (c) => c.json(await deps.runs.list(c.req.valid("query")), 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/runs/{id}",
      security,
      request: { params: S.RunParam },
      responses: { 200: json(S.RunView, "the run"), ...errors },
    }),
    async (c) => c.json(await deps.runs.get(c.req.valid("param").id), 200),
  );
  const conflict = { 409: json(S.ErrorResponse, "the run's state does not allow it") };
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/runs/{id}/cancel",
      security,
      request: {
        params: S.RunParam,
        body: { required: false, content: { "application/json": { schema: S.CancelBody } } },
      },
      responses: { 200: json(S.RunView, "canceled"), ...conflict, ...errors },
    }),
    async (c) => {
      const body = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      return c.json(await deps.runs.cancel(c.req.valid("param").id, c.get("actor"), body.by), 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/runs/{id}/rerun",
      security,
      request: {
        params: S.RunParam,
        body: { required: false, content: { "application/json": { schema: S.RerunBody } } },
      },
      responses: { 200: json(S.RunView, "running again"), ...conflict, ...errors },
    }),
    async (c) => {
      const body = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      const { id } = c.req.valid("param");
      return c.json(await deps.runs.rerun(id, body.failedOnly ?? false, c.get("actor")), 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/runs/{id}/trust",
      security,
      description:
        "Trusts a run of a pull request whose head is another repository (a fork). Until then its tasks get no " +
        "sensitive value (job template params marked sensitive, and any param built from one) and its tasks that " +
        "need approval are held (reason HeldUntrusted; approving them answers 409). After it, attempts queued " +
        "from then on get sensitive values and held tasks wait for their approvers; tasks that already ran stay " +
        "as they ran (rerun them). The run records who trusted it and when (`trustedBy`). 409 for a run that is " +
        "not a fork's pull request, already trusted, or finished.",
      request: { params: S.RunParam },
      responses: { 200: json(S.RunView, "trusted"), ...conflict, ...errors },
    }),
    async (c) => c.json(await deps.runs.trust(c.req.valid("param").id, c.get("actor")), 200),
  );
  for (const decision of ["approve", "deny"] as const)
    app.openapi(
      createRoute({
        method: "post",
        path: `/api/runs/{id}/tasks/{task}/${decision}`,
        security,
        request: {
          params: S.TaskParam,
          body: { required: true, content: { "application/json": { schema: S.DecisionBody } } },
        },
        responses: {
          200: json(
            S.RunView,
            decision === "approve" ? "approved: the task starts" : "denied: the task fails",
          ),
          403: json(S.ErrorResponse, "not one of the task's approvers"),
          ...conflict,
          ...errors,
        },
      }),
      async (c) => {
        const { id, task } = c.req.valid("param");
        const body = { kind: decision, ...c.req.valid("json") };
        return c.json(await deps.runs.decide(id, task, body, c.get("actor")), 200);
      },
    );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/runs/{id}/tasks/{task}/logs",
      security,
      request: { params: S.TaskParam, query: S.LogQuery },
      responses: {
        200: {
          content: { "text/plain": { schema: z.string() } },
          description:
            "an attempt's log (the current one by default), sensitive values masked: live while it runs, from the log archive after",
        },
        ...conflict,
        ...errors,
      },
    }),
    async (c) => {
      const { id, task } = c.req.valid("param");
      const { timestamps, ...query } = c.req.valid("query");
      return c.text(await deps.runs.logs(id, task, { ...query, timestamps: timestamps === "true" }), 200);
    },
  );

  app.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "hookflow",
      version: "1",
      description:
        "Pipelines, job templates and runs. Every route needs Authorization: Bearer <HOOKFLOW_API_TOKEN>.",
    },
  });
  return app;
}

export const handler = lazyHandler((base) => handle(createApiApp(apiDeps(base))));
