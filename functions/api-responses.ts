import * as z from "zod";
import {
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
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: "Error" });

export const Issues = z.array(
  z.object({ path: z.string(), message: z.string(), line: z.number().optional() }),
);

export const TaskView = z.object({
  name: z.string(),
  status: TaskStatus,
  reason: TaskReason,
  attempt: z.number().int(),
  message: z.string().optional(),
  jobName: z.string().optional(),
  queuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  outputs: z.record(z.string(), z.string()),
  approval: z
    .object({
      decision: z.enum(["approved", "denied"]),
      by: z.string(),
      comment: z.string().optional(),
      at: z.string(),
    })
    .optional(),
  approvers: z.array(z.string()).optional(),
  needs: z.array(z.string()).optional().describe("the tasks it waits for (a graph stage's edges)"),
  logs: z
    .array(
      z.object({ attempt: z.number().int(), containers: z.array(z.string()), gone: z.boolean().optional() }),
    )
    .optional()
    .describe("attempts whose logs the archive keeps, and their containers"),
  retryAt: z.string().optional().describe("when a retry waiting for its backoff may start"),
  history: z
    .array(
      z.object({
        attempt: z.number().int(),
        round: z.number().int(),
        status: TaskStatus,
        reason: TaskReason,
        message: z.string().optional(),
        jobName: z.string().optional(),
        startedAt: z.string().optional(),
        finishedAt: z.string().optional(),
        outputs: z.record(z.string(), z.string()),
      }),
    )
    .optional()
    .describe("earlier attempts, oldest first, as each ended (logs: ?attempt=N); a bounded number is kept"),
});

export const RunView = z
  .object({
    id: z.string(),
    pipeline: z.string(),
    status: RunStatus,
    reason: RunReason,
    message: z.string().optional(),
    trigger: TriggerContext.omit({ changedFiles: true }),
    appVersion: z.string(),
    params: z.record(z.string(), z.string()),
    concurrencyGroup: z.string().optional(),
    trustedBy: z.object({ by: z.string(), at: z.string() }).optional(),
    round: z.number().int(),
    stages: z.array(
      z.object({
        name: z.string(),
        parallel: z.boolean(),
        finally: z.boolean().optional().describe("the pipeline's finally tasks, run after every other stage"),
        status: z.enum([...RunStatus.options, "skipped"]),
        tasks: z.array(TaskView),
      }),
    ),
    deliveryFailures: z.array(
      z.object({ key: z.string(), target: z.string(), error: z.string(), at: z.string() }),
    ),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    updatedAt: z.string(),
  })
  .meta({ id: "Run" });

export const RunList = z
  .object({ items: z.array(RunView), cursor: z.string().optional() })
  .meta({ id: "RunList" });
export const PipelineSaved = z.object({ pipeline: Pipeline, warnings: Issues }).meta({ id: "PipelineSaved" });
export const JobSaved = z.object({ job: JobTemplate, warnings: Issues }).meta({ id: "JobSaved" });
export const PipelineList = z.object({ items: z.array(Pipeline) });
export const JobList = z.object({ items: z.array(JobTemplate) });

export const Me = z
  .object({
    subject: z.string(),
    name: z.string(),
    email: z.string().optional(),
    roles: z.array(z.string()),
    kind: z.enum(["person", "service"]),
    csrfToken: z
      .string()
      .optional()
      .describe(
        "signed in with the session cookie: send it as X-Hookflow-CSRF on every POST, PUT and DELETE",
      ),
  })
  .meta({ id: "Me" });

export const TokenInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(["person", "service"]),
    person: z.string().optional(),
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
    revokedAt: z.string().optional(),
    revokedBy: z.string().optional(),
  })
  .meta({ id: "Token" });
// An intersection, which the document shows as Token and the secret (allOf), as `.openapi()` showed an extension.
export const TokenCreated = z
  .intersection(
    TokenInfo,
    z.object({ token: z.string().describe("the secret: shown this once, stored only as a hash") }),
  )
  .meta({ id: "TokenCreated" });
export const TokenList = z.object({ items: z.array(TokenInfo) });

export const AuditEntry = z
  .object({
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    outcome: z.enum(["allowed", "refused"]),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: "AuditEntry" });
export const AuditList = z.object({ items: z.array(AuditEntry), cursor: z.string().optional() });

export const DoctorReport = z
  .object({
    version: z.string(),
    findings: z.array(
      z.object({
        check: z.string(),
        status: z.enum(["ok", "warn", "fail"]),
        message: z.string(),
        fix: z.string().optional(),
      }),
    ),
  })
  .meta({ id: "DoctorReport" });

export const EnabledRepository = z
  .object({ provider: z.enum(["github", "gitlab", "gitea"]), repository: z.string(), enabledAt: z.string() })
  .meta({ id: "EnabledRepository" });
export const RepositoryList = z.object({ items: z.array(EnabledRepository) });
export const RepositoryPipelineList = z.object({
  commit: z.string(),
  items: z.array(z.object({ name: z.string(), file: z.string(), pipeline: Pipeline })),
  problems: z.array(
    z.object({ file: z.string(), path: z.string(), message: z.string(), line: z.number().optional() }),
  ),
});
