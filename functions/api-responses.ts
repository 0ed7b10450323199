import * as z from "zod/mini";
import {
  AttemptRecord,
  JobTemplate,
  Pipeline,
  RunReason,
  RunStatus,
  TaskReason,
  TaskStatus,
  TriggerContext,
} from "../core/model/index.js";

/**
 * The shapes of the API's answers, for its OpenAPI document only (no route validates what it sends): loaded with
 * the document (api-openapi.ts), never at start (issue 20, cold start). Names and descriptions are zod's own
 * metadata, as in api-schemas.ts.
 */

export const ErrorResponse = z
  .object({
    error: z.string(),
    issues: z.optional(z.array(z.object({ path: z.string(), message: z.string() }))),
  })
  .register(z.globalRegistry, { id: "Error" });

export const Issues = z.array(
  z.object({ path: z.string(), message: z.string(), line: z.optional(z.number()) }),
);

export const TaskView = z.object({
  name: z.string(),
  status: TaskStatus,
  reason: TaskReason,
  attempt: z.int(),
  message: z.optional(z.string()),
  jobName: z.optional(z.string()),
  queuedAt: z.optional(z.string()),
  startedAt: z.optional(z.string()),
  finishedAt: z.optional(z.string()),
  outputs: z.record(z.string(), z.string()),
  approval: z.optional(
    z.object({
      decision: z.enum(["approved", "denied"]),
      by: z.string(),
      comment: z.optional(z.string()),
      at: z.string(),
    }),
  ),
  approvers: z.optional(z.array(z.string())),
  needs: z
    .optional(z.array(z.string()))
    .register(z.globalRegistry, { description: "the tasks it waits for (a graph stage's edges)" }),
  logs: z
    .optional(
      z.array(z.object({ attempt: z.int(), containers: z.array(z.string()), gone: z.optional(z.boolean()) })),
    )
    .register(z.globalRegistry, {
      description: "attempts whose logs the archive keeps, and their containers",
    }),
  retryAt: z
    .optional(z.string())
    .register(z.globalRegistry, { description: "when a retry waiting for its backoff may start" }),
  history: z.optional(z.array(AttemptRecord)).register(z.globalRegistry, {
    description: "earlier attempts, oldest first, as each ended (logs: ?attempt=N); a bounded number is kept",
  }),
});

export const RunView = z
  .object({
    id: z.string(),
    pipeline: z.string(),
    status: RunStatus,
    reason: RunReason,
    message: z.optional(z.string()),
    trigger: z.omit(TriggerContext, { changedFiles: true }),
    appVersion: z.string(),
    params: z.record(z.string(), z.string()),
    concurrencyGroup: z.optional(z.string()),
    trustedBy: z.optional(z.object({ by: z.string(), at: z.string() })),
    round: z.int(),
    stages: z.array(
      z.object({
        name: z.string(),
        parallel: z.boolean(),
        finally: z.optional(z.boolean()).register(z.globalRegistry, {
          description: "the pipeline's finally tasks, run after every other stage",
        }),
        status: z.enum([...RunStatus.options, "skipped"]),
        tasks: z.array(TaskView),
      }),
    ),
    deliveryFailures: z.array(
      z.object({ key: z.string(), target: z.string(), error: z.string(), at: z.string() }),
    ),
    createdAt: z.string(),
    startedAt: z.optional(z.string()),
    finishedAt: z.optional(z.string()),
    updatedAt: z.string(),
  })
  .register(z.globalRegistry, { id: "Run" });

export const RunList = z
  .object({ items: z.array(RunView), cursor: z.optional(z.string()) })
  .register(z.globalRegistry, { id: "RunList" });
export const PipelineSaved = z
  .object({ pipeline: Pipeline, warnings: Issues })
  .register(z.globalRegistry, { id: "PipelineSaved" });
export const JobSaved = z
  .object({ job: JobTemplate, warnings: Issues })
  .register(z.globalRegistry, { id: "JobSaved" });
export const PipelineList = z.object({ items: z.array(Pipeline) });
export const JobList = z.object({ items: z.array(JobTemplate) });

export const Me = z
  .object({
    subject: z.string(),
    name: z.string(),
    email: z.optional(z.string()),
    roles: z.array(z.string()),
    kind: z.enum(["person", "service"]),
    csrfToken: z.optional(z.string()).register(z.globalRegistry, {
      description:
        "signed in with the session cookie: send it as X-Hookflow-CSRF on every POST, PUT and DELETE",
    }),
  })
  .register(z.globalRegistry, { id: "Me" });

export const TokenInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(["person", "service"]),
    person: z.optional(z.string()),
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
    revokedAt: z.optional(z.string()),
    revokedBy: z.optional(z.string()),
  })
  .register(z.globalRegistry, { id: "Token" });
// An intersection, which the document shows as Token and the secret (allOf), as `.openapi()` showed an extension.
export const TokenCreated = z
  .intersection(
    TokenInfo,
    z.object({
      token: z
        .string()
        .register(z.globalRegistry, { description: "the secret: shown this once, stored only as a hash" }),
    }),
  )
  .register(z.globalRegistry, { id: "TokenCreated" });
export const TokenList = z.object({ items: z.array(TokenInfo) });

export const AuditEntry = z
  .object({
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    outcome: z.enum(["allowed", "refused"]),
    detail: z.optional(z.record(z.string(), z.unknown())),
  })
  .register(z.globalRegistry, { id: "AuditEntry" });
export const AuditList = z.object({ items: z.array(AuditEntry), cursor: z.optional(z.string()) });

export const DoctorReport = z
  .object({
    version: z.string(),
    findings: z.array(
      z.object({
        check: z.string(),
        status: z.enum(["ok", "warn", "fail"]),
        message: z.string(),
        fix: z.optional(z.string()),
      }),
    ),
  })
  .register(z.globalRegistry, { id: "DoctorReport" });

export const EnabledRepository = z
  .object({ provider: z.enum(["github", "gitlab", "gitea"]), repository: z.string(), enabledAt: z.string() })
  .register(z.globalRegistry, { id: "EnabledRepository" });
export const RepositoryList = z.object({ items: z.array(EnabledRepository) });
export const RepositoryPipelineList = z.object({
  commit: z.string(),
  items: z.array(z.object({ name: z.string(), file: z.string(), pipeline: Pipeline })),
  problems: z.array(
    z.object({ file: z.string(), path: z.string(), message: z.string(), line: z.optional(z.number()) }),
  ),
});
