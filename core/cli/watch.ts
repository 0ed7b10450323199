import type { RunView } from "../engine/view.js";
import { isTransient } from "./client.js";
import type { CommandEnv, Context, Output } from "./context.js";
import { fitWidth, isTerminalRunStatus, renderRun, runChanges } from "./render.js";
import { visibleDeep } from "./visible.js";

/** Polls in a row that may fail (a restarting local stack, a gateway busy) before the watch gives up. */
const MAX_FAILED_POLLS = 10;

/** 0 when the run succeeded, 1 when it failed or was canceled: what scripts and CI steps test. */
const exitCodeOf = (view: RunView) => (view.status === "succeeded" ? 0 : 1);

/**
 * After a command started a run: says so (or prints its JSON), then follows it with --watch, which decides the
 * exit code, or says how to follow it.
 */
export async function startedRun(
  env: CommandEnv,
  ctx: Context,
  view: RunView,
  options: { json?: boolean; watch?: boolean },
  line: string,
): Promise<void> {
  if (options.json && !options.watch) return ctx.json(view);
  if (!options.json) ctx.out(line);
  if (options.watch) env.setExitCode(await watchRun(ctx, view.id, { json: options.json }));
  else if (!options.json) ctx.out(ctx.style.grey(`follow it: hookflow status ${view.id} --watch`));
}

/**
 * Follows a run until it ends. On a terminal the status view is redrawn in place; elsewhere (CI logs, pipes)
 * each change is one line; with --json each new state of the run is one JSON line.
 */
export async function watchRun(ctx: Context, id: string, options: { json?: boolean } = {}): Promise<number> {
  let previous: RunView | undefined;
  let drawn = 0;
  let failedPolls = 0;
  for (;;) {
    let view: RunView;
    try {
      view = await ctx.client.getRun(id);
      failedPolls = 0;
    } catch (error) {
      if (!isTransient(error) || !previous || ++failedPolls >= MAX_FAILED_POLLS) throw error;
      await ctx.io.sleep(ctx.pollMs);
      continue;
    }
    if (options.json) {
      if (previous?.updatedAt !== view.updatedAt) ctx.io.stdout.write(`${JSON.stringify(view)}\n`);
    } else if (ctx.live) {
      drawn = redraw(ctx.io.stdout, drawn, renderRun(visibleDeep(view), ctx.io.now(), ctx.style));
    } else {
      const shown = (v: RunView | undefined) => v && visibleDeep(v);
      for (const line of runChanges(shown(previous), visibleDeep(view), ctx.io.now(), ctx.style))
        ctx.out(line);
    }
    previous = view;
    if (isTerminalRunStatus(view.status)) return exitCodeOf(view);
    await ctx.io.sleep(ctx.pollMs);
  }
}

const CSI = "\u001b[";

/**
 * Replaces the block drawn last (`previousLines` lines above the cursor) with `lines`, in one write so that it
 * does not flicker. Lines are cut to the terminal's width: a wrapped line would make the count wrong and the
 * next redraw would leave debris above the block.
 */
function redraw(out: Output, previousLines: number, lines: readonly string[]): number {
  const width = out.columns && out.columns > 1 ? out.columns - 1 : undefined;
  // Moving up by 0 moves up by 1 on most terminals: the first draw must not move at all.
  let text = previousLines > 0 ? `\r${CSI}${previousLines}A` : "";
  for (const line of lines) text += `${CSI}2K${width ? fitWidth(line, width) : line}\n`;
  out.write(`${text}${CSI}J`);
  return lines.length;
}
