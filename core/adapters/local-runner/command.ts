import * as z from "zod/mini";
import { PermanentError } from "../../errors.js";
import type { TaskLaunch } from "../../model/index.js";
import { schema } from "../../model/schema.js";

/** What a launch asks to run on this host; the image is ignored. */
export interface LocalCommand {
  argv: string[];
  /** The working directory the task names, if any; used only when it exists on this host. */
  workingDir?: string;
  /** Literal `env` entries of a job template's container (a `valueFrom` cannot be resolved here). */
  env: Record<string, string>;
}

const Container = /* @__PURE__ */ schema(() =>
  z.looseObject({
    command: z.optional(z.array(z.string())),
    args: z.optional(z.array(z.string())),
    workingDir: z.optional(z.string()),
    env: z.optional(z.array(z.looseObject({ name: z.string(), value: z.optional(z.string()) }))),
  }),
);

const JobManifest = /* @__PURE__ */ schema(() =>
  z.looseObject({
    spec: z.looseObject({
      template: z.looseObject({
        spec: z.looseObject({ containers: z.array(Container).check(z.minLength(1)) }),
      }),
    }),
  }),
);

/**
 * The argv, working directory and template env of a launch. A `run` task gives its command and args; a `job`
 * task its first container's. Values are passed as they are: Kubernetes' `$(VAR)` expansion is deliberately
 * not imitated, since it would write variable values (a branch name) into a shell script's text.
 */
export function commandOf(launch: TaskLaunch): LocalCommand {
  const source = launch.source;
  if (source.kind === "run") {
    const argv = [...source.command, ...(source.args ?? [])];
    return checked({ argv, workingDir: source.workingDir, env: {} }, `task "${launch.task}"`);
  }
  const where = `job template "${source.template}"`;
  const parsed = JobManifest.safeParse(source.manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join(".") || "(manifest)";
    throw new PermanentError(`${where}: ${path}: ${issue?.message ?? "invalid"}`);
  }
  const container = parsed.data.spec.template.spec.containers[0]!;
  if (!container.command?.length)
    throw new PermanentError(
      `${where}: the local runner needs a command: spec.template.spec.containers[0].command is not set, and an image's entrypoint is unknown on this host`,
    );
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) if (entry.value !== undefined) env[entry.name] = entry.value;
  const argv = [...container.command, ...(container.args ?? [])];
  return checked({ argv, workingDir: container.workingDir, env }, where);
}

/** Refuses what exec would: a NUL byte in a value, `=` in a variable name. */
function checked(command: LocalCommand, where: string): LocalCommand {
  if (command.argv.length === 0 || command.argv[0] === "")
    throw new PermanentError(`${where}: the command is empty`);
  if (command.argv.some((arg) => arg.includes("\0")))
    throw new PermanentError(`${where}: the command contains a NUL byte`);
  return command;
}

/** Checks an environment before it reaches exec, naming the variable at fault. */
export function checkEnv(env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    if (name === "" || name.includes("=") || name.includes("\0"))
      throw new PermanentError(`environment variable name ${JSON.stringify(name)} is not valid`);
    if (value.includes("\0")) throw new PermanentError(`environment variable ${name} contains a NUL byte`);
  }
}
