import type { Command } from "commander";
import type { RunView } from "../../engine/view.js";
import { CliError } from "../client.js";
import { type CommandEnv, type Context, whoAmI } from "../context.js";
import { visible, visibleDeep } from "../visible.js";
import { startedRun } from "../watch.js";
import { jsonOption } from "./options.js";

export function registerControl(program: Command, env: CommandEnv): void {
  for (const decision of ["approve", "deny"] as const)
    program
      .command(decision)
      .description(
        decision === "approve"
          ? "approve a task waiting for approval: it starts"
          : "deny a task waiting for approval: it fails, and the run with it",
      )
      .argument("<run>", "the run's id")
      .argument("<task>", "the task's name")
      .option("--by <name>", "who decides (default: $HOOKFLOW_USER, then the OS user)")
      .option("-m, --comment <text>", "why, shown with the decision")
      .addOption(jsonOption())
      .action(
        async (id: string, task: string, options: { by?: string; comment?: string; json?: boolean }) => {
          const ctx = env.context();
          const by = whoAmI(ctx.io, options.by);
          if (!by) throw new CliError("who decides? pass --by or set HOOKFLOW_USER", 2);
          const view = await ctx.client.decide(id, task, decision, {
            by,
            ...(options.comment && { comment: options.comment }),
          });
          report(
            ctx,
            view,
            options.json,
            `${decision === "approve" ? "approved" : "denied"} ${task} as ${by}`,
          );
        },
      );

  program
    .command("cancel")
    .description("cancel a run: running tasks are stopped, the rest will not start")
    .argument("<run>", "the run's id")
    .option("--by <name>", "who cancels, for the record (default: $HOOKFLOW_USER, then the OS user)")
    .addOption(jsonOption())
    .action(async (id: string, options: { by?: string; json?: boolean }) => {
      const ctx = env.context();
      const view = await ctx.client.cancel(id, whoAmI(ctx.io, options.by));
      report(ctx, view, options.json, "cancel requested");
    });

  program
    .command("rerun")
    .description("run an ended run again: every task, or with --failed-only the failed and canceled ones")
    .argument("<run>", "the run's id")
    .option("--failed-only", "keep the tasks that succeeded")
    .option("-w, --watch", "follow the run until it ends; exit 0 only when it succeeds")
    .addOption(jsonOption())
    .action(async (id: string, options: { failedOnly?: boolean; watch?: boolean; json?: boolean }) => {
      const ctx = env.context();
      const view = await ctx.client.rerun(id, options.failedOnly ?? false);
      await startedRun(env, ctx, view, options, reportLine(ctx, view, `rerun started (round ${view.round})`));
    });
}

function report(ctx: Context, view: RunView, json: boolean | undefined, what: string): void {
  if (json) ctx.json(view);
  else ctx.out(reportLine(ctx, view, what));
}

const reportLine = (ctx: Context, view: RunView, what: string) => {
  const shown = visibleDeep(view);
  return `${visible(what)}: run ${shown.id} (${shown.pipeline}) is ${ctx.style.status(shown.status)}`;
};
