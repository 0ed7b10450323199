import type { Context } from "hono";
import { handle } from "hono/aws-lambda";
import * as z from "zod/mini";
import { JobTemplate, LIMITS, Pipeline, Role, type RoleMap } from "../core/model/index.js";
import type { AuditLog, Logger } from "../core/ports.js";
import type { AccessControl, Attempt } from "../core/services/access.js";
import type { RunControl } from "../core/services/control.js";
import type { DefinitionService } from "../core/services/definitions.js";
import type { Doctor } from "../core/services/doctor.js";
import { approverOf, type PersonalTokens } from "../core/services/people.js";
import type { RepositoryService } from "../core/services/repositories.js";
import type { SignIn } from "../core/services/signin.js";
import type { ViewGrants } from "../core/services/view-grants.js";
import { HOOKFLOW_VERSION } from "../core/version.js";
import { API_STORES, apiDeps, lazyHandler } from "../core/wiring.js";
import * as S from "./api-schemas.js";
import { type Authenticated, authenticate, identifyCaller, tokenPrincipal } from "./auth.js";
import { mountConsole } from "./console/routes.js";
import { Hono, installErrorHandler, limitBody, requestLog } from "./http.js";
import { openApiRoute, type RouteList, type RouteSpec, type ValidOf } from "./openapi-route.js";
import { mountSignIn } from "./signin.js";

/**
 * Every /api body is read only up to this: a definition is at most 48 KB as JSON (LIMITS.pipelineBytes), and the
 * same definition as YAML, with comments and indentation, takes more; twice that leaves room for it while
 * bounding what the parsers ever see.
 */
export const MAX_API_BODY_BYTES = 2 * LIMITS.pipelineBytes;

export interface ApiDeps {
  definitions: DefinitionService;
  runs: RunControl;
  repositories: RepositoryService;
  apiToken: string | undefined;
  access: AccessControl;
  tokens: PersonalTokens;
  roles: RoleMap;
  audit: AuditLog;
  signIn?: SignIn;
  /** Checks the view grants in run links (the console's run page); absent, a link without sign-in shows nothing. */
  grants?: ViewGrants;
  doctor: () => Promise<Doctor>;
  log: Logger;
}

type Env = { Variables: Authenticated };

const definitionBody = (schema: z.ZodMiniType, what: string) => ({
  required: true,
  description: `the ${what} as YAML or JSON (JSON is YAML); errors name each field's path and line`,
  content: { "application/yaml": { schema } },
});
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];

/** Every /api route of the contract, and its OpenAPI 3.1 document generated from the same schemas. */
export function createApiApp(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();
  const routes: RouteList = [];
  const route = <const R extends RouteSpec>(
    spec: R,
    handler: (c: Context<Env, string, ValidOf<R["request"]>>) => Response | Promise<Response>,
  ) => openApiRoute(app, routes, spec, handler);
  installErrorHandler(app, deps.log);
  app.get("/healthz", (c) => c.json({ ok: true, version: HOOKFLOW_VERSION }));
  mountSignIn(app, deps);
  mountConsole(app as never, {
    runs: deps.runs,
    definitions: deps.definitions,
    identify: identifyCaller(deps),
    tokenPrincipal: tokenPrincipal(deps),
    ...(deps.grants && { grants: deps.grants }),
    signInConfigured: deps.signIn !== undefined,
    log: deps.log,
  });
  app.use("/api/*", authenticate(deps));
  app.use("/api/*", limitBody(MAX_API_BODY_BYTES, "an /api body"));
  // A run's routes log with the run (and the task, where the route has one): the error handler's line too. The
  // run command's own line names them from the command.
  app.use(
    "/api/runs/:id/*",
    requestLog(deps.log, (c) => ({ runId: c.req.param("id"), ...taskOf(c.req.path) })),
  );
  /** A read: the caller's role must include `role` (403 naming it otherwise). */
  const read = (c: Context<Env>, role: Role = "viewer") => deps.access.check(c.get("principal"), role);
  /** A change: role checked, done, and recorded in the audit, allowed or refused. */
  const act = <T>(
    c: Context<Env>,
    attempt: Attempt,
    work: () => Promise<T>,
    detailOf?: (result: T) => Record<string, unknown>,
  ) => deps.access.perform(c.get("principal"), attempt, work, detailOf);

  // ---------------------------------------------------------------- pipelines and job templates
  route(
    {
      method: "put",
      path: "/api/pipelines/{name}",
      security,
      request: { params: S.NameParam, body: definitionBody(Pipeline, "pipeline") },
      responses: (d) => ({
        200: d.json(d.PipelineSaved, "replaced"),
        201: d.json(d.PipelineSaved, "created"),
        ...d.errors,
      }),
    },
    async (c) => {
      const { name } = c.req.valid("param");
      const text = await c.req.text();
      const saved = await act(
        c,
        { action: "pipeline.put", target: `pipeline/${name}`, role: "admin" },
        () => deps.definitions.putPipeline(name, text),
        versions,
      );
      const body = { pipeline: saved.value, warnings: saved.warnings, version: saved.version };
      return c.json(body, saved.created ? 201 : 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/pipelines",
      security,
      responses: (d) => ({ 200: d.json(d.PipelineList, "all pipelines"), ...d.errors }),
    },
    async (c) => {
      read(c);
      return c.json({ items: await deps.definitions.listPipelines() }, 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/pipelines/{name}",
      security,
      request: { params: S.NameParam, query: S.VersionQuery },
      responses: (d) => ({
        200: d.json(
          Pipeline,
          "the pipeline (or its `version`: apply it again to revert), sensitive values masked",
        ),
        ...d.errors,
      }),
    },
    async (c) => {
      read(c);
      const { name } = c.req.valid("param");
      return c.json(await deps.definitions.getPipeline(name, c.req.valid("query").version), 200);
    },
  );
  route(
    {
      method: "delete",
      path: "/api/pipelines/{name}",
      security,
      request: { params: S.NameParam },
      responses: (d) => ({ 204: { description: "deleted" }, ...d.errors }),
    },
    async (c) => {
      const { name } = c.req.valid("param");
      await act(
        c,
        { action: "pipeline.delete", target: `pipeline/${name}`, role: "admin" },
        () => deps.definitions.deletePipeline(name),
        (r) => ({ previousVersion: r.previous }),
      );
      return c.body(null, 204);
    },
  );
  route(
    {
      method: "put",
      path: "/api/jobs/{name}",
      security,
      request: { params: S.NameParam, body: definitionBody(JobTemplate, "job template") },
      responses: (d) => ({
        200: d.json(d.JobSaved, "replaced"),
        201: d.json(d.JobSaved, "created"),
        ...d.errors,
      }),
    },
    async (c) => {
      const { name } = c.req.valid("param");
      const text = await c.req.text();
      const saved = await act(
        c,
        { action: "job.put", target: `job/${name}`, role: "admin" },
        () => deps.definitions.putJob(name, text),
        versions,
      );
      const body = { job: saved.value, warnings: saved.warnings, version: saved.version };
      return c.json(body, saved.created ? 201 : 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/jobs",
      security,
      responses: (d) => ({ 200: d.json(d.JobList, "all job templates"), ...d.errors }),
    },
    async (c) => {
      read(c);
      return c.json({ items: await deps.definitions.listJobs() }, 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/jobs/{name}",
      security,
      request: { params: S.NameParam, query: S.VersionQuery },
      responses: (d) => ({ 200: d.json(JobTemplate, "the job template (or its `version`)"), ...d.errors }),
    },
    async (c) => {
      read(c);
      const { name } = c.req.valid("param");
      return c.json(await deps.definitions.getJob(name, c.req.valid("query").version), 200);
    },
  );
  route(
    {
      method: "delete",
      path: "/api/jobs/{name}",
      security,
      request: { params: S.NameParam },
      responses: (d) => ({
        204: { description: "deleted" },
        409: d.json(
          z.intersection(d.ErrorResponse, z.object({ pipelines: z.array(z.string()) })),
          "in use by these pipelines",
        ),
        ...d.errors,
      }),
    },
    async (c) => {
      const { name } = c.req.valid("param");
      await act(
        c,
        { action: "job.delete", target: `job/${name}`, role: "admin" },
        () => deps.definitions.deleteJob(name),
        (r) => ({ previousVersion: r.previous }),
      );
      return c.body(null, 204);
    },
  );

  // ---------------------------------------------------------------- repositories with pipelines in their files
  route(
    {
      method: "put",
      path: "/api/repositories/{provider}/{path}",
      security,
      description:
        "Enables reading the repository's pipelines from `.hookflow.yaml` and `.hookflow/*.yaml`. `path` is the " +
        "repository's path URL-encoded as one segment (`acme%2Fweb`, GitLab subgroups included).",
      request: { params: S.RepositoryParam },
      responses: (d) => ({
        200: d.json(d.EnabledRepository, "already enabled"),
        201: d.json(d.EnabledRepository, "enabled"),
        ...d.errors,
      }),
    },
    async (c) => {
      const { provider, path } = c.req.valid("param");
      const { repository, created } = await act(
        c,
        { action: "repository.enable", target: `repository/${provider}/${path}`, role: "admin" },
        () => deps.repositories.enable(provider, path),
      );
      return c.json(repository, created ? 201 : 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/repositories",
      security,
      responses: (d) => ({ 200: d.json(d.RepositoryList, "every enabled repository"), ...d.errors }),
    },
    async (c) => {
      read(c);
      return c.json({ items: await deps.repositories.list() }, 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/repositories/{provider}/{path}",
      security,
      request: { params: S.RepositoryParam },
      responses: (d) => ({ 200: d.json(d.EnabledRepository, "enabled"), ...d.errors }),
    },
    async (c) => {
      read(c);
      const { provider, path } = c.req.valid("param");
      return c.json(await deps.repositories.get(provider, path), 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/repositories/{provider}/{path}/pipelines",
      security,
      description:
        "The repository's pipelines at the head of `ref` (a branch, default main), each with the file it came " +
        "from, and what is wrong in its files.",
      request: { params: S.RepositoryParam, query: S.RepositoryPipelinesQuery },
      responses: (d) => ({
        200: d.json(d.RepositoryPipelineList, "its pipelines and problems"),
        ...d.errors,
      }),
    },
    async (c) => {
      read(c);
      const { provider, path } = c.req.valid("param");
      return c.json(
        await deps.repositories.pipelines(provider, path, c.req.valid("query").ref ?? "main"),
        200,
      );
    },
  );
  route(
    {
      method: "delete",
      path: "/api/repositories/{provider}/{path}",
      security,
      request: { params: S.RepositoryParam },
      responses: (d) => ({ 204: { description: "disabled: its files are no longer read" }, ...d.errors }),
    },
    async (c) => {
      const { provider, path } = c.req.valid("param");
      await act(
        c,
        { action: "repository.disable", target: `repository/${provider}/${path}`, role: "admin" },
        () => deps.repositories.disable(provider, path),
      );
      return c.body(null, 204);
    },
  );

  // ---------------------------------------------------------------- runs
  route(
    {
      method: "post",
      path: "/api/pipelines/{name}/runs",
      security,
      request: {
        params: S.NameParam,
        body: { required: false, content: { "application/json": { schema: S.ManualRunBody } } },
      },
      responses: (d) => ({ 201: d.json(d.RunView, "the new run; sensitive params masked"), ...d.errors }),
    },
    async (c) => {
      const body = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      const { name } = c.req.valid("param");
      const principal = c.get("principal");
      const startedBy =
        principal.kind === "person"
          ? [principal.identity.username, ...(principal.identity.email ? [principal.identity.email] : [])]
          : [];
      const run = await act(
        c,
        { action: "run.start", target: `pipeline/${name}`, role: "operator" },
        () => deps.runs.start(name, body, c.get("actor"), startedBy),
        (r) => ({ run: r.id }),
      );
      return c.json(run, 201);
    },
  );
  route(
    {
      method: "get",
      path: "/api/runs",
      security,
      request: { query: S.RunQuery },
      responses: (d) => ({ 200: d.json(d.RunList, "runs, newest first"), ...d.errors }),
    },
    async (c) => {
      read(c);
      return c.json(await deps.runs.list(c.req.valid("query")), 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/runs/{id}",
      security,
      request: { params: S.RunParam },
      responses: (d) => ({ 200: d.json(d.RunView, "the run"), ...d.errors }),
    },
    async (c) => {
      read(c);
      return c.json(await deps.runs.get(c.req.valid("param").id), 200);
    },
  );
  route(
    {
      method: "post",
      path: "/api/runs/{id}/cancel",
      security,
      request: {
        params: S.RunParam,
        body: { required: false, content: { "application/json": { schema: S.CancelBody } } },
      },
      responses: (d) => ({ 200: d.json(d.RunView, "canceled"), ...d.conflict, ...d.errors }),
    },
    async (c) => {
      c.req.header("content-type")?.includes("json") && c.req.valid("json");
      const { id } = c.req.valid("param");
      const by = principalLabel(c);
      const run = await act(c, { action: "run.cancel", target: `run/${id}`, role: "operator" }, () =>
        deps.runs.cancel(id, c.get("actor"), by),
      );
      return c.json(run, 200);
    },
  );
  route(
    {
      method: "post",
      path: "/api/runs/{id}/rerun",
      security,
      request: {
        params: S.RunParam,
        body: { required: false, content: { "application/json": { schema: S.RerunBody } } },
      },
      responses: (d) => ({ 200: d.json(d.RunView, "running again"), ...d.conflict, ...d.errors }),
    },
    async (c) => {
      const body = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
      const { id } = c.req.valid("param");
      const run = await act(
        c,
        { action: "run.rerun", target: `run/${id}`, role: "operator", detail: { ...body } },
        () => deps.runs.rerun(id, body, c.get("actor")),
      );
      return c.json(run, 200);
    },
  );
  route(
    {
      method: "post",
      path: "/api/runs/{id}/tasks/{task}/cancel",
      security,
      request: {
        params: S.TaskParam,
        body: { required: false, content: { "application/json": { schema: S.CancelBody } } },
      },
      responses: (d) => ({
        200: d.json(d.RunView, "the task canceled: a failure its ignoreFailed absorbs"),
        ...d.conflict,
        ...d.errors,
      }),
    },
    async (c) => {
      c.req.header("content-type")?.includes("json") && c.req.valid("json");
      const { id, task } = c.req.valid("param");
      const run = await act(
        c,
        { action: "task.cancel", target: `run/${id}/tasks/${task}`, role: "operator" },
        () => deps.runs.cancelTask(id, task, c.get("actor"), principalLabel(c)),
      );
      return c.json(run, 200);
    },
  );
  route(
    {
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
      responses: (d) => ({ 200: d.json(d.RunView, "trusted"), ...d.conflict, ...d.errors }),
    },
    async (c) => {
      const { id } = c.req.valid("param");
      const run = await act(c, { action: "run.trust", target: `run/${id}`, role: "operator" }, () =>
        deps.runs.trust(id, c.get("actor")),
      );
      return c.json(run, 200);
    },
  );
  for (const decision of ["approve", "deny"] as const)
    route(
      {
        method: "post",
        path: `/api/runs/{id}/tasks/{task}/${decision}`,
        security,
        request: {
          params: S.TaskParam,
          body: { required: false, content: { "application/json": { schema: S.DecisionBody } } },
        },
        responses: (d) => ({
          200: d.json(
            d.RunView,
            decision === "approve" ? "approved: the task starts" : "denied: the task fails",
          ),
          ...d.conflict,
          ...d.errors,
          403: d.json(
            d.ErrorResponse,
            "not one of the task's approvers; a service token; a `by` that is not the caller; the pusher where self-approval is refused",
          ),
        }),
      },
      async (c) => {
        const { id, task } = c.req.valid("param");
        const body = c.req.header("content-type")?.includes("json") ? c.req.valid("json") : {};
        const principal = c.get("principal");
        const attempt: Attempt = {
          action: `task.${decision}`,
          target: `run/${id}/task/${task}`,
          role: "viewer",
          ...(body.comment && { detail: { comment: body.comment } }),
        };
        const run = await act(c, attempt, () =>
          deps.runs.decide(
            id,
            task,
            {
              kind: decision,
              ...approverOf(principal, body.by),
              ...(body.comment && { comment: body.comment }),
            },
            c.get("actor"),
          ),
        );
        return c.json(run, 200);
      },
    );
  route(
    {
      method: "get",
      path: "/api/runs/{id}/tasks/{task}/logs",
      security,
      request: { params: S.TaskParam, query: S.LogQuery },
      responses: (d) => ({
        200: {
          content: { "text/plain": { schema: z.string() } },
          description:
            "an attempt's log (the current one by default), sensitive values masked: live while it runs, from the log archive after",
        },
        ...d.conflict,
        ...d.errors,
      }),
    },
    async (c) => {
      read(c);
      const { id, task } = c.req.valid("param");
      const { timestamps, ...query } = c.req.valid("query");
      return c.text(await deps.runs.logs(id, task, { ...query, timestamps: timestamps === "true" }), 200);
    },
  );

  // ---------------------------------------------------------------- people
  route(
    {
      method: "get",
      path: "/api/me",
      security,
      responses: (d) => ({ 200: d.json(d.Me, "who the caller is, and their roles"), ...d.errors }),
    },
    async (c) => {
      const principal = c.get("principal");
      const held = Role.options.filter(
        (r) => principal.role && Role.options.indexOf(r) <= Role.options.indexOf(principal.role),
      );
      const csrf = c.get("csrf");
      if (principal.kind === "service")
        return c.json(
          { kind: "service" as const, subject: principal.tokenId, name: principal.label, roles: held },
          200,
        );
      const { identity } = principal;
      return c.json(
        {
          kind: "person" as const,
          subject: identity.subject,
          name: identity.username,
          ...(identity.email && { email: identity.email }),
          roles: held,
          ...(csrf && { csrfToken: csrf }),
        },
        200,
      );
    },
  );
  route(
    {
      method: "post",
      path: "/api/tokens",
      security,
      request: { body: { required: true, content: { "application/json": { schema: S.TokenBody } } } },
      responses: (d) => ({ 201: d.json(d.TokenCreated, "the token, shown this once"), ...d.errors }),
    },
    async (c) => {
      const body = c.req.valid("json");
      const created = await act(
        c,
        {
          action: "token.create",
          target: body.for ? `person/${body.for}` : "token",
          role: "viewer",
          detail: { name: body.name },
        },
        () => deps.tokens.create(c.get("principal"), body),
        (t) => ({ token: t.id, expiresAt: t.expiresAt }),
      );
      return c.json(created, 201);
    },
  );
  route(
    {
      method: "get",
      path: "/api/tokens",
      security,
      responses: (d) => ({
        200: d.json(d.TokenList, "the caller's tokens (never their secrets)"),
        ...d.errors,
      }),
    },
    async (c) => {
      read(c);
      return c.json({ items: await deps.tokens.list(c.get("principal")) }, 200);
    },
  );
  route(
    {
      method: "delete",
      path: "/api/tokens/{id}",
      security,
      request: { params: S.TokenParam },
      responses: (d) => ({ 200: d.json(d.TokenInfo, "revoked: it stops working at once"), ...d.errors }),
    },
    async (c) => {
      const { id } = c.req.valid("param");
      const revoked = await act(c, { action: "token.revoke", target: `token/${id}`, role: "viewer" }, () =>
        deps.tokens.revoke(c.get("principal"), id),
      );
      return c.json(revoked, 200);
    },
  );
  route(
    {
      method: "get",
      path: "/api/audit",
      security,
      request: { query: S.AuditQuery },
      responses: (d) => ({ 200: d.json(d.AuditList, "the audit trail, newest first"), ...d.errors }),
    },
    async (c) => {
      read(c, "admin");
      return c.json(await deps.audit.list(c.req.valid("query")), 200);
    },
  );

  route(
    {
      method: "get",
      path: "/api/doctor",
      security,
      responses: (d) => ({
        200: d.json(
          d.DoctorReport,
          "the deployment checked with its own credentials: webhook secrets, task tokens, sign-in, queue and dead letters, log bucket, Kubernetes rights",
        ),
        ...d.errors,
      }),
    },
    async (c) => {
      read(c, "admin");
      return c.json(await (await deps.doctor()).check(), 200);
    },
  );

  // Generated on its first request: building it loads the generator (api-openapi.ts) and the answers' schemas,
  // which no other route needs (issue 20).
  let document: Promise<unknown> | undefined;
  app.get("/api/openapi.json", async (c) => {
    document ??= import("./api-openapi.js").then(({ openApiDocument }) => openApiDocument(routes));
    return c.json(await document);
  });
  return app;
}

/** A definition's change in the audit: the version it replaced and the new one. */
const versions = (saved: { version: number; previous?: number }) => ({
  version: saved.version,
  ...(saved.previous !== undefined && { previousVersion: saved.previous }),
});

const principalLabel = (c: Context<Env>): string => {
  const principal = c.get("principal");
  return principal.kind === "person" ? principal.identity.username : principal.label;
};

/** The task a `/api/runs/{id}/tasks/{task}/…` path names, for the request's log fields. */
function taskOf(path: string): { task?: string } {
  const task = /^\/api\/runs\/[^/]+\/tasks\/([^/]+)/.exec(path)?.[1];
  if (!task) return {};
  try {
    return { task: decodeURIComponent(task) };
  } catch {
    return { task }; // malformed escapes: the route itself answers 400 or 404
  }
}

export const handler = lazyHandler(API_STORES, (base) => handle(createApiApp(apiDeps(base))));
