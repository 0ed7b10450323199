import type { Command } from "commander";
import { ApiError, CliError } from "../client.js";
import { type CommandEnv, collect } from "../context.js";
import { applyOrder, formatIssue, readDefinitions } from "../documents.js";
import { pipelinesTable } from "../render.js";
import { visible, visibleDeep } from "../visible.js";
import { jsonOption } from "./options.js";

export function registerDefinitions(program: Command, env: CommandEnv): void {
  program
    .command("apply")
    .description(
      "create or replace pipelines and job templates from YAML or JSON files (job templates first); a directory " +
        "means its *.yaml, *.yml and *.json files",
    )
    .requiredOption("-f, --filename <path>", "a file or directory (repeatable)", collect)
    .action(async (options: { filename: string[] }) => {
      const ctx = env.context();
      const { definitions, problems } = await readDefinitions(options.filename, ctx.io.cwd);
      if (problems.length > 0) {
        for (const problem of problems) ctx.err(problem);
        throw new CliError("nothing applied: fix the problems above first");
      }
      if (definitions.length === 0) throw new CliError("no pipelines or job templates found");
      let failed = 0;
      for (const definition of applyOrder(definitions)) {
        const label = `${definition.kind}/${definition.name}`;
        try {
          const saved = await ctx.client.putDefinition(definition.kind, definition.name, definition.text);
          ctx.out(`${visible(label)} ${saved.created ? "created" : "updated"}`);
          for (const warning of saved.warnings)
            ctx.err(`warning: ${visible(formatIssue(definition, warning))}`);
        } catch (error) {
          // A definition the API refuses does not stop the others; an API that cannot be used at all does.
          if (!(error instanceof ApiError) || error.status === 401 || error.status >= 500) throw error;
          failed += 1;
          ctx.err(`error: ${visible(`${label}: ${error.error}`)}`);
          for (const issue of error.issues) ctx.err(visible(formatIssue(definition, issue)));
        }
      }
      if (failed > 0) env.setExitCode(1);
    });

  program
    .command("pipelines")
    .description("list pipelines: name, triggers, stage and task counts")
    .addOption(jsonOption())
    .action(async (options: { json?: boolean }) => {
      const ctx = env.context();
      const list = await ctx.client.listPipelines();
      if (options.json) return ctx.json(list);
      if (list.items.length === 0) return ctx.err("no pipelines yet: hookflow apply -f <file>");
      for (const line of pipelinesTable(visibleDeep(list.items))) ctx.out(line);
    });
}
