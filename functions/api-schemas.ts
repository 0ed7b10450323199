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
  logs: z
    .array(
      z.object({ attempt: z.number().int(), containers: z.array(z.string()), gone: z.boolean().optional() }),
    )
    .optional()
    .describe("attempts whose logs the archive keeps, and their containers"),
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
export const RerunBody = z.strictObject({ failedOnly: z.boolean().optional() });
export const CancelBody = z.strictObject({ by: z.string().min(1).max(128).optional() });
export const DecisionBody = z.strictObject({
  by: z.string().min(1).max(128),
  comment: z.string().max(1024).optional(),
});

export const NameParam = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a pipeline or job name"),
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
  attempt: z.coerce.number().int().min(1).max(100_000).optional(),
  /** A container's name: a DNS label, as Kubernetes names them. */
  container: z
    .string()
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a container name: lowercase letters, digits and '-'")
    .optional(),
  tail: z.coerce.number().int().min(1).max(100_000).optional(),
  timestamps: z.enum(["true", "false"]).optional(),
});
