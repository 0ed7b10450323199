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

/** The API's request and response shapes; the OpenAPI document is generated from these. */

export const ErrorResponse = z
  .object({
    error: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Error");

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
  .openapi("Run");

export const RunList = z
  .object({ items: z.array(RunView), cursor: z.string().optional() })
  .openapi("RunList");
export const PipelineSaved = z.object({ pipeline: Pipeline, warnings: Issues }).openapi("PipelineSaved");
export const JobSaved = z.object({ job: JobTemplate, warnings: Issues }).openapi("JobSaved");
export const PipelineList = z.object({ items: z.array(Pipeline) });
export const JobList = z.object({ items: z.array(JobTemplate) });

export const ManualRunBody = z
  .strictObject({
    ref: z.string().min(1).max(255).optional(),
    commit: z
      .string()
      .regex(/^[0-9a-f]{7,40}$/, "a commit sha (hex)")
      .optional(),
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  })
  .openapi("ManualRun");
export const RerunBody = z
  .strictObject({
    failedOnly: z
      .boolean()
      .optional()
      .describe("only what failed, was canceled or skipped, and what follows"),
    task: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a task name")
      .optional()
      .describe("rerun this task alone"),
    downstream: z.boolean().optional().describe("with `task`: also what runs after it"),
  })
  .superRefine((body, ctx) => {
    if (body.downstream !== undefined && body.task === undefined)
      ctx.addIssue({ code: "custom", path: ["downstream"], message: "only with `task`" });
    if (body.failedOnly !== undefined && body.task !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["failedOnly"],
        message: "not with `task`: give one or the other",
      });
  })
  .openapi("Rerun");
/** `by` is accepted for older clients: the canceler recorded is the caller. */
export const CancelBody = z.strictObject({ by: z.string().min(1).max(128).optional() });
/** The decider is the caller; a `by` naming anyone else is refused (403). */
export const DecisionBody = z.strictObject({
  by: z.string().min(1).max(256).optional(),
  comment: z.string().max(1024).optional(),
});

export const VersionQuery = z.object({
  version: z.coerce.number().int().min(1).max(99_999_999).optional(),
});

export const Me = z
  .object({
    subject: z.string(),
    name: z.string(),
    email: z.string().optional(),
    roles: z.array(z.string()),
    kind: z.enum(["person", "service"]),
    csrfToken: z.string().optional().openapi({
      description:
        "signed in with the session cookie: send it as X-Hookflow-CSRF on every POST, PUT and DELETE",
    }),
  })
  .openapi("Me");

export const TokenBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/, "1-64 letters, digits, spaces and . _ @ -"),
  expiresInDays: z.number().int().min(1).max(365).optional(),
  for: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/, "a username or email")
    .optional()
    .openapi({ description: "admins, when no sign-in is configured: a token acting as this person" }),
});
export const TokenParam = z.object({ id: z.string().regex(/^[a-f0-9]{16}$/, "a token id") });
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
  .openapi("Token");
export const TokenCreated = TokenInfo.extend({
  token: z.string().openapi({ description: "the secret: shown this once, stored only as a hash" }),
}).openapi("TokenCreated");
export const TokenList = z.object({ items: z.array(TokenInfo) });

export const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(256).optional(),
});
export const AuditEntry = z
  .object({
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    outcome: z.enum(["allowed", "refused"]),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("AuditEntry");
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
  .openapi("DoctorReport");

export const CliExchangeBody = z.strictObject({
  code: z.string().regex(/^[A-Za-z0-9_-]{32}$/, "the one-time code"),
  verifier: z.string().regex(/^[A-Za-z0-9_-]{43,128}$/, "the verifier behind the challenge"),
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/)
    .optional(),
});

export const NameParam = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a pipeline or job name"),
});
export const RepositoryParam = z.object({
  provider: z.string().max(16),
  path: z.string().min(1).max(300),
});
export const EnabledRepository = z
  .object({ provider: z.enum(["github", "gitlab", "gitea"]), repository: z.string(), enabledAt: z.string() })
  .openapi("EnabledRepository");
export const RepositoryList = z.object({ items: z.array(EnabledRepository) });
export const RepositoryPipelinesQuery = z.object({ ref: z.string().min(1).max(255).optional() });
export const RepositoryPipelineList = z.object({
  commit: z.string(),
  items: z.array(z.object({ name: z.string(), file: z.string(), pipeline: Pipeline })),
  problems: z.array(
    z.object({ file: z.string(), path: z.string(), message: z.string(), line: z.number().optional() }),
  ),
});
export const RunParam = z.object({ id: z.string().regex(/^[a-z0-9]{1,64}$/, "a run id") });
export const TaskParam = RunParam.extend({
  task: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a task name"),
});
export const RunQuery = z.object({
  pipeline: z.string().optional(),
  status: RunStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2048).optional(),
});
export const LogQuery = z.object({
  attempt: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe("an earlier attempt's log; default the current"),
  /** A container's name: a DNS label, as Kubernetes names them. */
  container: z
    .string()
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a container name: lowercase letters, digits and '-'")
    .optional(),
  tail: z.coerce.number().int().min(1).max(100_000).optional(),
  timestamps: z.enum(["true", "false"]).optional(),
});
