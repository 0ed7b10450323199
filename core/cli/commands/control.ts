import type { Command } from "commander";
import type { RunView } from "../../engine/view.js";
import { CliError } from "../client.js";
import type { CommandEnv, Context } from "../context.js";
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
      .option("--by <name>", "accepted for older scripts: it must name you (the token's or sign-in's person)")
      .option("-m, --comment <text>", "why, shown with the decision")
      .addOption(jsonOption())
      .action(
        async (id: string, task: string, options: { by?: string; comment?: string; json?: boolean }) => {
          const ctx = env.context();
          const view = await ctx.client.decide(id, task, decision, {
            ...(options.by && { by: options.by }),
            ...(options.comment && { comment: options.comment }),
          });
          const decided = view.stages.flatMap((s) => s.tasks).find((t) => t.name === task)?.approval?.by;
          report(
            ctx,
            view,
            options.json,
            `${decision === "approve" ? "approved" : "denied"} ${task}${decided ? ` as ${decided}` : ""}`,
          );
        },
      );

  program
    .command("cancel")
    .description("cancel a run: running tasks are stopped, the rest will not start; or one task with --task")
    .argument("<run>", "the run's id")
    .option("--task <name>", "cancel this task alone: a failure its ignoreFailed absorbs")
    .option(
      "--by <name>",
      "accepted for older scripts; the canceler recorded is the token's or sign-in's person",
    )
    .addOption(jsonOption())
    .action(async (id: string, options: { task?: string; by?: string; json?: boolean }) => {
      const ctx = env.context();
      const view = await ctx.client.cancel(id, options.by, options.task);
      report(ctx, view, options.json, options.task ? `task ${options.task} canceled` : "cancel requested");
    });

  program
    .command("rerun")
    .description(
      "run an ended run again: every task, with --failed-only the failed and canceled ones, or one --task",
    )
    .argument("<run>", "the run's id")
    .option("--failed-only", "keep the tasks that succeeded")
    .option("--task <name>", "rerun this task alone (the finally tasks run again too)")
    .option("--downstream", "with --task: also what runs after it")
    .option("-w, --watch", "follow the run until it ends; exit 0 only when it succeeds")
    .addOption(jsonOption())
    .action(
      async (
        id: string,
        options: {
          failedOnly?: boolean;
          task?: string;
          downstream?: boolean;
          watch?: boolean;
          json?: boolean;
        },
      ) => {
        if (options.downstream && !options.task) throw new CliError("--downstream needs --task", 2);
        if (options.failedOnly && options.task) throw new CliError("--failed-only or --task, not both", 2);
        const ctx = env.context();
        const view = await ctx.client.rerun(
          id,
          options.task
            ? { task: options.task, downstream: options.downstream ?? false }
            : { failedOnly: options.failedOnly ?? false },
        );
        const what = options.task ? `rerun of ${options.task} started` : "rerun started";
        await startedRun(env, ctx, view, options, reportLine(ctx, view, `${what} (round ${view.round})`));
      },
    );
}

function report(ctx: Context, view: RunView, json: boolean | undefined, what: string): void {
  if (json) ctx.json(view);
  else ctx.out(reportLine(ctx, view, what));
}

const reportLine = (ctx: Context, view: RunView, what: string) => {
  const shown = visibleDeep(view);
  return `${visible(what)}: run ${shown.id} (${shown.pipeline}) is ${ctx.style.status(shown.status)}`;
};
