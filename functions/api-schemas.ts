import * as z from "zod/mini";
import { RunStatus } from "../core/model/index.js";
import { schema } from "../core/model/schema.js";

/**
 * What the API's routes read from a request (path, query, body), validated on every call. The OpenAPI document is
 * generated from these and from the answers' shapes (api-responses.ts, loaded only to build the document); a
 * name or description the document shows is zod's own metadata in its global registry (`.register(z.globalRegistry,
 * …)`), which zod's JSON Schema generator reads, so that this module needs no `.openapi()` and the API starts
 * without @hono/zod-openapi (issue 20).
 * Each is built on the first request that reads it (`schema`, core/model/schema.ts).
 */

export const ManualRunBody = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      ref: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
      commit: z.optional(z.string().check(z.regex(/^[0-9a-f]{7,40}$/, "a commit sha (hex)"))),
      params: z.optional(
        z.record(z.string(), z.pipe(z.union([z.string(), z.number(), z.boolean()]), z.transform(String))),
      ),
    })
    .register(z.globalRegistry, { id: "ManualRun" }),
);
export const RerunBody = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      failedOnly: z.optional(z.boolean()).register(z.globalRegistry, {
        description: "only what failed, was canceled or skipped, and what follows",
      }),
      task: z
        .optional(z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a task name")))
        .register(z.globalRegistry, { description: "rerun this task alone" }),
      downstream: z
        .optional(z.boolean())
        .register(z.globalRegistry, { description: "with `task`: also what runs after it" }),
    })
    .check(
      z.superRefine((body, ctx) => {
        if (body.downstream !== undefined && body.task === undefined)
          ctx.addIssue({ code: "custom", path: ["downstream"], message: "only with `task`" });
        if (body.failedOnly !== undefined && body.task !== undefined)
          ctx.addIssue({
            code: "custom",
            path: ["failedOnly"],
            message: "not with `task`: give one or the other",
          });
      }),
    )
    .register(z.globalRegistry, { id: "Rerun" }),
);
/** `by` is accepted for older clients: the canceler recorded is the caller. */
export const CancelBody = /* @__PURE__ */ schema(() =>
  z.strictObject({ by: z.optional(z.string().check(z.minLength(1), z.maxLength(128))) }),
);
/** The decider is the caller; a `by` naming anyone else is refused (403). */
export const DecisionBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    by: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
    comment: z.optional(z.string().check(z.maxLength(1024))),
  }),
);

export const VersionQuery = /* @__PURE__ */ schema(() =>
  z.object({
    version: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(99_999_999))),
  }),
);

export const TokenBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    name: z
      .string()
      .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/, "1-64 letters, digits, spaces and . _ @ -")),
    expiresInDays: z.optional(z.int().check(z.gte(1), z.lte(365))),
    for: z
      .optional(z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/, "a username or email")))
      .register(z.globalRegistry, {
        description: "admins, when no sign-in is configured: a token acting as this person",
      }),
  }),
);
export const TokenParam = /* @__PURE__ */ schema(() =>
  z.object({ id: z.string().check(z.regex(/^[a-f0-9]{16}$/, "a token id")) }),
);
export const AuditQuery = /* @__PURE__ */ schema(() =>
  z.object({
    limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(200)), 50),
    cursor: z.optional(z.string().check(z.maxLength(256))),
  }),
);
export const CliExchangeBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    code: z.string().check(z.regex(/^[A-Za-z0-9_-]{32}$/, "the one-time code")),
    verifier: z.string().check(z.regex(/^[A-Za-z0-9_-]{43,128}$/, "the verifier behind the challenge")),
    name: z.optional(z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/))),
  }),
);

export const NameParam = /* @__PURE__ */ schema(() =>
  z.object({
    name: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a pipeline or job name")),
  }),
);
export const RepositoryParam = /* @__PURE__ */ schema(() =>
  z.object({
    provider: z.string().check(z.maxLength(16)),
    path: z.string().check(z.minLength(1), z.maxLength(300)),
  }),
);
export const RepositoryPipelinesQuery = /* @__PURE__ */ schema(() =>
  z.object({ ref: z.optional(z.string().check(z.minLength(1), z.maxLength(255))) }),
);
export const RunParam = /* @__PURE__ */ schema(() =>
  z.object({ id: z.string().check(z.regex(/^[a-z0-9]{1,64}$/, "a run id")) }),
);
export const TaskParam = /* @__PURE__ */ schema(() =>
  z.extend(RunParam, {
    task: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a task name")),
  }),
);
export const RunQuery = /* @__PURE__ */ schema(() =>
  z.object({
    pipeline: z.optional(z.string()),
    status: z.optional(RunStatus),
    limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 20),
    cursor: z.optional(z.string().check(z.maxLength(2048))),
  }),
);
export const LogQuery = /* @__PURE__ */ schema(() =>
  z.object({
    attempt: z
      .optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(100_000)))
      .register(z.globalRegistry, { description: "an earlier attempt's log; default the current" }),
    /** A container's name: a DNS label, as Kubernetes names them. */
    container: z.optional(
      z
        .string()
        .check(
          z.maxLength(63),
          z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a container name: lowercase letters, digits and '-'"),
        ),
    ),
    tail: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(100_000))),
    timestamps: z.optional(z.enum(["true", "false"])),
  }),
);
