import { handle } from "hono/aws-lambda";
import * as z from "zod/mini";
import { ValidationError } from "../core/errors.js";
import { issuesFromZod, LIMITS, VARIABLE_NAME } from "../core/model/index.js";
import { schema } from "../core/model/schema.js";
import type { Logger } from "../core/ports.js";
import type { RelayReport, RelayReports } from "../core/services/relay-reports.js";
import type { TaskAttempt, TaskReports } from "../core/services/reports.js";
import type { TaskTokens } from "../core/services/tokens.js";
import { CALLBACK_STORES, callbackDeps, lazyHandler } from "../core/wiring.js";
import { relayToken, taskToken } from "./auth.js";
import { Hono, installErrorHandler, limitBody, requestLog } from "./http.js";

const MAX_CALLBACK_BYTES = 64 * 1024;

export const CallbackBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    status: z.enum(["running", "succeeded", "failed"]),
    message: z.optional(z.string().check(z.maxLength(LIMITS.messageBytes * 4))),
    outputs: z.optional(
      z.record(
        z
          .string()
          .check(
            z.regex(VARIABLE_NAME, "an output name is letters, digits and '_', not starting with a digit"),
          ),
        z.string(),
      ),
    ),
  }),
);
export type CallbackBody = z.infer<typeof CallbackBody>;

/** What the relay reports: the attempt a Job of hookflow's runs and what the Job shows (core/relay). */
export const RelayReportBody = /* @__PURE__ */ schema(() =>
  z.strictObject({
    jobName: z.string().check(z.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a Job name (a DNS label)")),
    runId: z.string().check(z.regex(/^[a-z0-9]{1,64}$/, "a run id")),
    task: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a task name")),
    attempt: z.int().check(z.gte(1), z.lte(9999)),
    observation: z.strictObject({
      state: z.enum(["running", "succeeded", "failed"]),
      // Kubernetes keeps at most 4096 bytes of a termination message.
      terminationMessage: z.optional(z.string().check(z.maxLength(4096))),
      message: z.optional(z.string().check(z.maxLength(LIMITS.messageBytes * 4))),
    }),
  }),
);

export interface CallbackDeps {
  reports: TaskReports;
  tokens: TaskTokens;
  log: Logger;
  relay: RelayReports;
  /** HOOKFLOW_RELAY_TOKEN; without it the relay's route refuses everything. */
  relayToken: string | undefined;
}

/**
 * `POST /callbacks/tasks/{taskId}`: a task attempt reports its status and outputs with its own token. The fact
 * is recorded exactly once under concurrent callbacks (the run's version check); what the run then owes (the
 * next tasks, notifications) is queued for the scheduler, which alone talks to the cluster.
 */
type CallbackEnv = { Variables: { attempt: TaskAttempt } };

export function createCallbackApp(deps: CallbackDeps): Hono<CallbackEnv> {
  const app = new Hono<CallbackEnv>();
  installErrorHandler(app, deps.log);
  app.post(
    "/callbacks/tasks/:taskId",
    limitBody(MAX_CALLBACK_BYTES, "a callback body"),
    taskToken(deps.tokens),
    requestLog(deps.log, (c) => {
      const { runId, task, attempt }: TaskAttempt = c.get("attempt");
      return { runId, task, attempt };
    }),
    async (c) => c.json(await deps.reports.report(c.get("attempt"), await readBody(c.req.raw)), 200),
  );
  // `POST /callbacks/relay`: the in-cluster relay reports what a Job of hookflow's shows, with its own token.
  app.post(
    "/callbacks/relay",
    limitBody(MAX_CALLBACK_BYTES, "a relay report"),
    relayToken(deps.relayToken),
    async (c) => {
      return c.json(await deps.relay.report(await readRelayReport(c.req.raw)), 200);
    },
  );
  return app;
}

async function readBody(request: Request): Promise<CallbackBody> {
  let json: unknown;
  try {
    json = await request.json();
  } catch {
    throw new ValidationError(
      'body must be JSON: {"status": "running"|"succeeded"|"failed", "message"?, "outputs"?}',
    );
  }
  const result = CallbackBody.safeParse(json);
  if (!result.success) throw new ValidationError("invalid callback", issuesFromZod(result.error));
  return result.data;
}

async function readRelayReport(request: Request): Promise<RelayReport> {
  let json: unknown;
  try {
    json = await request.json();
  } catch {
    throw new ValidationError("body must be JSON: {jobName, runId, task, attempt, observation}");
  }
  const result = RelayReportBody.safeParse(json);
  if (!result.success) throw new ValidationError("invalid relay report", issuesFromZod(result.error));
  const { observation, ...attempt } = result.data;
  return {
    ...attempt,
    observation: {
      state: observation.state,
      ...(observation.terminationMessage !== undefined && {
        terminationMessage: observation.terminationMessage,
      }),
      ...(observation.message !== undefined && { message: observation.message }),
    },
  };
}

export const handler = lazyHandler(CALLBACK_STORES, (base) => handle(createCallbackApp(callbackDeps(base))));
