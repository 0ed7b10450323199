import { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import * as z from "zod";
import { ValidationError } from "../core/errors.js";
import { issuesFromZod, LIMITS, VARIABLE_NAME } from "../core/model/index.js";
import type { Logger } from "../core/ports.js";
import type { TaskAttempt, TaskReports } from "../core/services/reports.js";
import type { TaskTokens } from "../core/services/tokens.js";
import { callbackDeps, lazyHandler } from "../core/wiring.js";
import { taskToken } from "./auth.js";
import { installErrorHandler, limitBody } from "./http.js";

const MAX_CALLBACK_BYTES = 64 * 1024;

export const CallbackBody = z.strictObject({
  status: z.enum(["running", "succeeded", "failed"]),
  message: z
    .string()
    .max(LIMITS.messageBytes * 4)
    .optional(),
  outputs: z
    .record(
      z.string().regex(VARIABLE_NAME, "an output name is letters, digits and '_', not starting with a digit"),
      z.string(),
    )
    .optional(),
});
export type CallbackBody = z.infer<typeof CallbackBody>;

export interface CallbackDeps {
  reports: TaskReports;
  tokens: TaskTokens;
  log: Logger;
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
    async (c) => c.json(await deps.reports.report(c.get("attempt"), await readBody(c.req.raw)), 200),
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

export const handler = lazyHandler((base) => handle(createCallbackApp(callbackDeps(base))));
