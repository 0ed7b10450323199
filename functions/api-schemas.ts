import * as z from "zod";
import { RunStatus } from "../core/model/index.js";
import { schema } from "../core/model/schema.js";

/**
 * What the API's routes read from a request (path, query, body), validated on every call. The OpenAPI document is
 * generated from these and from the answers' shapes (api-responses.ts, loaded only to build the document); a
 * name or description the document shows is zod's own metadata (`.meta`, `.describe`), which zod's JSON Schema
 * generator reads, so that this module needs no `.openapi()` and the API starts without @hono/zod-openapi (issue 20).
 * Each is built on the first request that reads it (`schema`, core/model/schema.ts).
 */

export const ManualRunBody = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      ref: z.string().min(1).max(255).optional(),
      commit: z
        .string()
        .regex(/^[0-9a-f]{7,40}$/, "a commit sha (hex)")
        .optional(),
      params: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
        .optional(),
    })
    .meta({ id: "ManualRun" }),
);
export const RerunBody = /* @__PURE__ */ schema(() =>
  z
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
    .meta({ id: "Rerun" }),
);
/** `by` is accepted for older clients: the canceler recorded is the caller. */
export const CancelBody = /* @__PURE__ */ schema(() =>
  z.strictObject({ by: z.string().min(1).max(128).optional() }),
);
/** The decider is the caller; a `by` naming anyone else is refused (403). */
export const DecisionBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    by: z.string().min(1).max(256).optional(),
    comment: z.string().max(1024).optional(),
  }),
);

export const VersionQuery = /* @__PURE__ */ schema(() =>
  z.object({
    version: z.coerce.number().int().min(1).max(99_999_999).optional(),
  }),
);

export const TokenBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/, "1-64 letters, digits, spaces and . _ @ -"),
    expiresInDays: z.number().int().min(1).max(365).optional(),
    for: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/, "a username or email")
      .optional()
      .describe("admins, when no sign-in is configured: a token acting as this person"),
  }),
);
export const TokenParam = /* @__PURE__ */ schema(() =>
  z.object({ id: z.string().regex(/^[a-f0-9]{16}$/, "a token id") }),
);
export const AuditQuery = /* @__PURE__ */ schema(() =>
  z.object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(256).optional(),
  }),
);
export const CliExchangeBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    code: z.string().regex(/^[A-Za-z0-9_-]{32}$/, "the one-time code"),
    verifier: z.string().regex(/^[A-Za-z0-9_-]{43,128}$/, "the verifier behind the challenge"),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/)
      .optional(),
  }),
);

export const NameParam = /* @__PURE__ */ schema(() =>
  z.object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a pipeline or job name"),
  }),
);
export const RepositoryParam = /* @__PURE__ */ schema(() =>
  z.object({
    provider: z.string().max(16),
    path: z.string().min(1).max(300),
  }),
);
export const RepositoryPipelinesQuery = /* @__PURE__ */ schema(() =>
  z.object({ ref: z.string().min(1).max(255).optional() }),
);
export const RunParam = /* @__PURE__ */ schema(() =>
  z.object({ id: z.string().regex(/^[a-z0-9]{1,64}$/, "a run id") }),
);
export const TaskParam = /* @__PURE__ */ schema(() =>
  RunParam.extend({
    task: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a task name"),
  }),
);
export const RunQuery = /* @__PURE__ */ schema(() =>
  z.object({
    pipeline: z.string().optional(),
    status: RunStatus.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(2048).optional(),
  }),
);
export const LogQuery = /* @__PURE__ */ schema(() =>
  z.object({
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
  }),
);
