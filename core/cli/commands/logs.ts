import type { Command } from "commander";
import { LOG_CUT_NOTICE, lastLines } from "../../model/limits.js";
import { ApiError, CliError } from "../client.js";
import { type CommandEnv, type Context, positiveInt } from "../context.js";
import { isTerminalRunStatus, isTerminalTaskStatus, unseenLog } from "../render.js";
import { visibleLog } from "../visible.js";

export function registerLogs(program: Command, env: CommandEnv): void {
  program
    .command("logs")
    .description("print a task's log (its current attempt)")
    .argument("<run>", "the run's id")
    .argument("<task>", "the task's name")
    .option("-f, --follow", "keep printing new output until the task ends")
    .option("--tail <n>", "only the last n lines", positiveInt(100_000))
    .action(async (id: string, task: string, options: { follow?: boolean; tail?: number }) => {
      const ctx = env.context();
      if (options.follow) return followLogs(ctx, id, task, options.tail);
      ctx.io.stdout.write(visibleLog(await ctx.client.logs(id, task, options.tail)));
    });
}

/**
 * Prints what is new in the log at each poll until the task ends. The task's state is read before its log, so
 * that the log read after seeing it end is complete. A new attempt starts a new log, announced on stderr.
 */
async function followLogs(ctx: Context, id: string, task: string, tail: number | undefined): Promise<void> {
  let shown: string | undefined;
  let attempt: number | undefined;
  let toldWaiting = false;
  for (;;) {
    const run = await ctx.client.getRun(id);
    const state = run.stages.flatMap((s) => s.tasks).find((t) => t.name === task);
    if (!state) throw new CliError(`no task ${task} in run ${id}`);
    const over = isTerminalTaskStatus(state.status) || isTerminalRunStatus(run.status);
    if (attempt !== undefined && state.attempt !== attempt) {
      ctx.err(ctx.style.grey(`--- attempt ${state.attempt} ---`));
      shown = "";
    }
    attempt = state.attempt;
    let text: string | undefined;
    try {
      text = await ctx.client.logs(id, task);
    } catch (error) {
      // 409: the task has no Job yet (pending, or waiting for approval); it may still get one.
      if (!(error instanceof ApiError && error.status === 409) || over) throw error;
      if (!toldWaiting) ctx.err(ctx.style.grey(`waiting for ${task} to start (${state.status})`));
      toldWaiting = true;
    }
    // A container (re)starting has an empty log for a moment: that is not the log starting over.
    if (text !== undefined && !(text === "" && shown)) {
      const log = text.replace(LOG_CUT_NOTICE, "");
      ctx.io.stdout.write(
        visibleLog(
          shown === undefined ? (tail === undefined ? text : lastLines(text, tail)) : unseenLog(shown, log),
        ),
      );
      shown = log;
    }
    if (over) return;
    await ctx.io.sleep(ctx.pollMs);
  }
}
