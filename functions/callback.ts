import { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { bodyLimit } from "hono/body-limit";
import * as z from "zod";
import { jobNameFor, outputBytes, parseCallbackTaskId } from "../core/engine/index.js";
import { ValidationError } from "../core/errors.js";
import { issuesFromZod, LIMITS, type RunEvent, VARIABLE_NAME } from "../core/model/index.js";
import type { Logger, WorkQueue } from "../core/ports.js";
import type { RunRecorder } from "../core/services/runs.js";
import { owedMessage } from "../core/services/scheduler.js";
import type { TaskTokens } from "../core/services/tokens.js";
import { callbackDeps, lazyHandler } from "../core/wiring.js";
import { errorBody, installErrorHandler } from "./http.js";

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
  recorder: RunRecorder;
  tokens: TaskTokens;
  queue: WorkQueue;
  log: Logger;
}

/**
 * `POST /callbacks/tasks/{taskId}`: a task attempt reports its status and outputs with its own token. The fact
 * is recorded here, exactly once under concurrent callbacks thanks to the run's version check; what the run then
 * owes (the next tasks, notifications) is carried out by the scheduler, which alone talks to the cluster.
 */
export function createCallbackApp(deps: CallbackDeps): Hono {
  const app = new Hono();
  installErrorHandler(app, deps.log);

  app.post(
    "/callbacks/tasks/:taskId",
    bodyLimit({
      maxSize: MAX_CALLBACK_BYTES,
      onError: (c) => c.json(errorBody(`a callback body is at most ${MAX_CALLBACK_BYTES} bytes`), 413),
    }),
    async (c) => {
      const ref = parseCallbackTaskId(c.req.param("taskId"));
      if (!ref) return c.json(errorBody("no such task; use the URL in HOOKFLOW_CALLBACK_URL"), 404);
      const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
      if (!token) return c.json(errorBody("missing Authorization: Bearer <HOOKFLOW_TASK_TOKEN>"), 401);
      // The token is bound to run, task and attempt: any other attempt's token is refused here.
      if (!deps.tokens.verify(jobNameFor(ref.runId, ref.task, ref.attempt), token))
        return c.json(errorBody("this token does not belong to this task attempt"), 403);

      const body = await readBody(c.req.raw);
      if (body.outputs && outputBytes(body.outputs) > LIMITS.outputBytesPerTask)
        return c.json(
          errorBody(
            `outputs are ${outputBytes(body.outputs)} bytes; a task may report at most ${LIMITS.outputBytesPerTask}`,
          ),
          413,
        );

      const recorded = await deps.recorder.record(ref.runId, [eventFor(ref, body)]);
      if (recorded.effects.length > 0) await deps.queue.send([owedMessage(ref.runId, recorded.run.version)]);
      const ignored = recorded.ignored[0];
      const task = recorded.run.stages.flatMap((s) => s.tasks).find((t) => t.name === ref.task);
      if (ignored?.reason === "UnknownTask") return c.json(errorBody(ignored.message), 404);
      if (ignored && ignored.reason !== "Duplicate")
        return c.json(errorBody(ignored.message, undefined, { status: task?.status }), 409);
      if (task?.reason === "OutputsTooLarge")
        return c.json(errorBody(task.message ?? "outputs too large"), 413);
      return c.json({ run: ref.runId, task: ref.task, attempt: ref.attempt, status: task?.status }, 200);
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

function eventFor(ref: { task: string; attempt: number }, body: CallbackBody): RunEvent {
  const at = { task: ref.task, attempt: ref.attempt };
  switch (body.status) {
    case "running":
      return body.outputs
        ? { type: "task.outputs", ...at, outputs: body.outputs }
        : { type: "task.started", ...at };
    case "succeeded":
      return {
        type: "task.succeeded",
        ...at,
        ...(body.outputs && { outputs: body.outputs }),
        ...(body.message && { message: body.message }),
      };
    case "failed":
      return { type: "task.failed", ...at, message: body.message ?? "the task reported a failure" };
  }
}

export const handler = lazyHandler((base) => handle(createCallbackApp(callbackDeps(base))));
