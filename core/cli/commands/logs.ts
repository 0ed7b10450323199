import type { Command } from "commander";
import { LOG_CUT_NOTICE, lastLines } from "../../model/limits.js";
import { ApiError, CliError } from "../client.js";
import { type CommandEnv, type Context, positiveInt } from "../context.js";
import { isTerminalRunStatus, isTerminalTaskStatus, unseenLog } from "../render.js";
import { visibleLog } from "../visible.js";

interface LogOptions {
  follow?: boolean;
  tail?: number;
  attempt?: number;
  container?: string;
}

export function registerLogs(program: Command, env: CommandEnv): void {
  program
    .command("logs")
    .description("print a task's log (its current attempt; live while it runs, from the log archive after)")
    .argument("<run>", "the run's id")
    .argument("<task>", "the task's name")
    .option("-f, --follow", "keep printing new output until the task (or the attempt asked for) ends")
    .option("--tail <n>", "only the last n lines", positiveInt(100_000))
    .option("--attempt <n>", "that attempt's log (earlier attempts stay readable)", positiveInt(100_000))
    .option("--container <name>", "only that container's log (init containers too)")
    .action(async (id: string, task: string, options: LogOptions) => {
      const ctx = env.context();
      if (options.follow) return followLogs(ctx, id, task, options);
      const { tail, attempt, container } = options;
      ctx.io.stdout.write(visibleLog(await ctx.client.logs(id, task, { tail, attempt, container })));
    });
}

/**
 * Prints what is new in the log at each poll until the task (or the attempt asked for) ends. The task's state
 * is read before its log, so that the log read after seeing it end is complete: from its pod while the Job is
 * kept, from the archive once copied (the same text, so the move adds no gap and repeats no line). When a new
 * attempt starts, the rest of the one before is printed first, then the new one's, announced on stderr.
 */
async function followLogs(ctx: Context, id: string, task: string, options: LogOptions): Promise<void> {
  const { tail, container } = options;
  let shown: string | undefined;
  let attempt: number | undefined = options.attempt;
  let toldWaiting = false;
  const print = (text: string) => {
    const log = text.replace(LOG_CUT_NOTICE, "");
    ctx.io.stdout.write(
      visibleLog(
        shown === undefined ? (tail === undefined ? text : lastLines(text, tail)) : unseenLog(shown, log),
      ),
    );
    shown = log;
  };
  for (;;) {
    const run = await ctx.client.getRun(id);
    const state = run.stages.flatMap((s) => s.tasks).find((t) => t.name === task);
    if (!state) throw new CliError(`no task ${task} in run ${id}`);
    const pinned = options.attempt !== undefined;
    const over =
      isTerminalTaskStatus(state.status) ||
      isTerminalRunStatus(run.status) ||
      (pinned && state.attempt > (options.attempt as number));
    if (!pinned && attempt !== undefined && state.attempt !== attempt) {
      // The attempt that ended: what it wrote since the last poll, before the next one's log.
      if (shown !== undefined) print(await ctx.client.logs(id, task, { attempt, container }));
      ctx.err(ctx.style.grey(`--- attempt ${state.attempt} ---`));
      shown = "";
    }
    if (!pinned) attempt = state.attempt;
    let text: string | undefined;
    try {
      text = await ctx.client.logs(id, task, { ...(pinned && { attempt }), container });
    } catch (error) {
      // 409: the task has no Job yet (pending, or waiting for approval); it may still get one. 404 for an
      // attempt asked for that has not started yet.
      const early = error instanceof ApiError && (error.status === 409 || (pinned && error.status === 404));
      if (!early || over) throw error;
      if (!toldWaiting) ctx.err(ctx.style.grey(`waiting for ${task} to start (${state.status})`));
      toldWaiting = true;
    }
    // A container (re)starting has an empty log for a moment: that is not the log starting over.
    if (text !== undefined && !(text === "" && shown)) print(text);
    if (over) return;
    await ctx.io.sleep(ctx.pollMs);
  }
}
