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
export const CancelBody = z.strictObject({ by: z.string().min(1).max(128).optional() });
export const DecisionBody = z.strictObject({
  by: z.string().min(1).max(128),
  comment: z.string().max(1024).optional(),
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
  tail: z.coerce.number().int().min(1).max(100_000).optional(),
  attempt: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe("an earlier attempt's log; default the current"),
});
