import {
  byteLength,
  isProcessControlName,
  LIMITS,
  OUTPUT_VARIABLE_NAME,
  type OutputsInput,
  type Run,
  SYSTEM_VARIABLES,
  VARIABLE_NAME,
} from "../model/index.js";

const LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/**
 * Outputs from a callback object or a termination message. Lines that are not `KEY=VALUE` are ignored: with
 * FallbackToLogsOnError a failed container's message is the tail of its log.
 */
export function parseOutputs(input: OutputsInput): Record<string, string> {
  if (typeof input !== "string")
    return Object.fromEntries(Object.entries(input).filter(([key]) => VARIABLE_NAME.test(key)));
  const outputs: Record<string, string> = {};
  for (const line of input.split(/\r?\n/)) {
    const match = LINE.exec(line);
    if (match) outputs[match[1] as string] = match[2] as string;
  }
  return outputs;
}

export function outputBytes(outputs: Record<string, string>): number {
  let total = 0;
  for (const [key, value] of Object.entries(outputs)) total += byteLength(key) + byteLength(value);
  return total;
}

/** A message when outputs are over a limit; outputs are never cut silently. */
export function outputsProblem(
  taskOutputs: Record<string, string>,
  runOutputBytes: number,
): string | undefined {
  const bytes = outputBytes(taskOutputs);
  if (bytes > LIMITS.outputBytesPerTask)
    return `outputs are ${bytes} bytes; a task may report at most ${LIMITS.outputBytesPerTask}`;
  if (runOutputBytes > LIMITS.outputBytesPerRun)
    return `the run's outputs would be ${runOutputBytes} bytes; a run may hold at most ${LIMITS.outputBytesPerRun}`;
  return undefined;
}

/**
 * Every name the run's definitions declare: job-template params, pipeline, task and run params, the `env` names
 * of the templates' containers, and the system variables. An output never takes one of these names, so an
 * earlier task cannot change what a later one was given (an image, a namespace, a registry).
 */
export function declaredNames(run: Pick<Run, "jobs" | "definition" | "params">): Set<string> {
  const names = new Set<string>(SYSTEM_VARIABLES);
  const add = (values: Record<string, string> | undefined) => {
    for (const name of Object.keys(values ?? {})) names.add(name);
  };
  add(run.definition.params);
  add(run.params);
  for (const stage of run.definition.stages) for (const task of stage.tasks) add(task.params);
  for (const job of Object.values(run.jobs)) {
    for (const param of job.params) names.add(param.name);
    for (const name of containerEnvNames(job.template)) names.add(name);
  }
  return names;
}

function containerEnvNames(manifest: unknown): string[] {
  const spec = (manifest as { spec?: { template?: { spec?: Record<string, unknown> } } }).spec?.template
    ?.spec;
  const names: string[] = [];
  for (const field of ["containers", "initContainers", "ephemeralContainers"]) {
    const containers = spec?.[field];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      const env = (container as { env?: unknown } | null)?.env;
      if (!Array.isArray(env)) continue;
      for (const entry of env) {
        const name = (entry as { name?: unknown } | null)?.name;
        if (typeof name === "string") names.push(name);
      }
    }
  }
  return names;
}

/**
 * Why an output may not become a variable of later tasks (see the README's precedence rule), or undefined when it
 * may. Only UPPERCASE names become variables; others are kept as outputs only.
 */
export function outputRefusal(name: string, declared: ReadonlySet<string>): string | undefined {
  if (!OUTPUT_VARIABLE_NAME.test(name)) return undefined;
  if (isProcessControlName(name)) return `${name} is a process-control name`;
  if (declared.has(name)) return `${name} is declared by the run's definitions`;
  return undefined;
}

/** Splits reported outputs into those kept and the refusals, each naming its output. */
export function screenOutputs(
  outputs: Record<string, string>,
  declared: ReadonlySet<string>,
): { kept: Record<string, string>; refused: string[] } {
  const kept: Record<string, string> = {};
  const refused: string[] = [];
  for (const [name, value] of Object.entries(outputs)) {
    const why = outputRefusal(name, declared);
    if (why) refused.push(why);
    else kept[name] = value;
  }
  return { kept, refused };
}
