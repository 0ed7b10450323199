import { type Command, Option } from "commander";
import type { RunStatus } from "../../model/index.js";
import type { ManualRun } from "../client.js";
import { type CommandEnv, keyValue, positiveInt } from "../context.js";
import { RUN_STATUSES, renderRun, runsTable } from "../render.js";
import { visible, visibleDeep } from "../visible.js";
import { startedRun, watchRun } from "../watch.js";
import { jsonOption } from "./options.js";

export function registerRuns(program: Command, env: CommandEnv): void {
  program
    .command("run")
    .description("start a run of a pipeline by hand")
    .argument("<pipeline>", "the pipeline's name")
    .option(
      "-p, --param <KEY=VALUE>",
      "a run param (repeatable); overrides the definitions' values",
      keyValue,
    )
    .option("--ref <ref>", "a branch, or a full ref (refs/tags/v1); default main")
    .option("--commit <sha>", "the commit the run is for")
    .option("-w, --watch", "follow the run until it ends; exit 0 only when it succeeds")
    .addOption(jsonOption())
    .action(
      async (
        pipeline: string,
        options: {
          param?: Record<string, string>;
          ref?: string;
          commit?: string;
          watch?: boolean;
          json?: boolean;
        },
      ) => {
        const ctx = env.context();
        const request: ManualRun = {
          ...(options.ref !== undefined && { ref: options.ref }),
          ...(options.commit !== undefined && { commit: options.commit }),
          ...(options.param && { params: options.param }),
        };
        const run = await ctx.client.startRun(pipeline, request);
        const shown = visibleDeep(run);
        await startedRun(
          env,
          ctx,
          run,
          options,
          `started run ${shown.id} of ${shown.pipeline} on ${shown.trigger.ref}`,
        );
      },
    );

  program
    .command("runs")
    .description("list runs, newest first")
    .option("--pipeline <name>", "only this pipeline's runs")
    .addOption(new Option("--status <status>", "only runs in this status").choices(RUN_STATUSES))
    .option("-n, --limit <n>", "at most this many (1-100, default 20)", positiveInt(100))
    .option("--cursor <cursor>", "the page after the one that printed this cursor")
    .addOption(jsonOption())
    .action(
      async (options: {
        pipeline?: string;
        status?: RunStatus;
        limit?: number;
        cursor?: string;
        json?: boolean;
      }) => {
        const ctx = env.context();
        const { json, ...query } = options;
        const page = await ctx.client.listRuns(query);
        if (json) return ctx.json(page);
        if (page.items.length === 0) ctx.err("no runs");
        else for (const line of runsTable(visibleDeep(page.items), ctx.io.now(), ctx.style)) ctx.out(line);
        if (page.cursor)
          ctx.err(`more: hookflow runs ${visible(`${nextPageArgs(query)}--cursor ${page.cursor}`)}`);
      },
    );

  program
    .command("status")
    .description("show a run's stages and tasks; with --watch, follow it and exit 0 only when it succeeds")
    .argument("<run>", "the run's id")
    .option("-w, --watch", "follow the run until it ends (exit 1 when it fails or is canceled)")
    .addOption(jsonOption())
    .action(async (id: string, options: { watch?: boolean; json?: boolean }) => {
      const ctx = env.context();
      if (options.watch) return env.setExitCode(await watchRun(ctx, id, { json: options.json }));
      const view = await ctx.client.getRun(id);
      if (options.json) return ctx.json(view);
      for (const line of renderRun(visibleDeep(view), ctx.io.now(), ctx.style)) ctx.out(line);
    });
}

function nextPageArgs(query: { pipeline?: string; status?: string; limit?: number }): string {
  const args = [
    query.pipeline && `--pipeline ${query.pipeline}`,
    query.status && `--status ${query.status}`,
    query.limit && `--limit ${query.limit}`,
  ];
  return args
    .filter(Boolean)
    .map((a) => `${a} `)
    .join("");
}
