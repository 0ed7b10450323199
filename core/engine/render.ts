import {
  COMMAND_LINE,
  DEFAULT_TASK_TIMEOUT_SECONDS,
  formatPath,
  isUntrustedRun,
  type JobTemplate,
  OUTPUT_VARIABLE_NAME,
  type Run,
  referencesIn,
  runStagesOf,
  substitute,
  type Task,
  type TaskLaunch,
  UNTRUSTED_VARIABLES,
  upstreamOf,
} from "../model/index.js";
import { declaredNames, outputRefusal } from "./outputs.js";
import { enumProblem } from "./params.js";
import { firstFault } from "./status.js";

type RenderFailure = { ok: false; reason: "MissingVariable" | "InvalidSpec"; message: string };
export type RenderResult = { ok: true; launch: TaskLaunch } | RenderFailure;

interface Variable {
  value: string;
  /** From a webhook or a callback, or built from such a value: never put into a command line. */
  untrusted: boolean;
  /** Never in a spec, a view or a log: env from a Secret only. */
  sensitive: boolean;
}

/**
 * Names whose values are sensitive in this run: declared `sensitive` by any of its job templates, or listed in a
 * `run` task's `secrets` (validated at apply to be declared sensitive somewhere; counted here too, so that the
 * value stays secret even when that template is not part of the run).
 */
export function sensitiveNames(
  run: Pick<Run, "jobs"> & { definition?: Pick<Run["definition"], "stages"> },
): Set<string> {
  const names = new Set<string>();
  for (const job of Object.values(run.jobs)) for (const p of job.params) if (p.sensitive) names.add(p.name);
  for (const stage of run.definition?.stages ?? [])
    for (const task of stage.tasks) for (const name of task.secrets ?? []) names.add(name);
  return names;
}

/** The sensitive names a task may receive: those its job template declares, or those its `secrets` list. */
function sensitiveNamesFor(def: Task, job: JobTemplate | undefined): Set<string> {
  return new Set(job ? job.params.map((p) => p.name) : (def.secrets ?? []));
}

export function findTask(run: Run, name: string): { stage: number; index: number; def: Task } | undefined {
  for (const [s, stage] of runStagesOf(run.definition).entries()) {
    const index = stage.tasks.findIndex((t) => t.name === name);
    if (index >= 0) return { stage: s, index, def: stage.tasks[index] as Task };
  }
  return undefined;
}

/**
 * Outputs visible to a task: those of every task in earlier stages, of earlier tasks of its own stage when the
 * stage is serial, and of the tasks it needs (directly or not) in a parallel one. Other parallel siblings' outputs
 * are not visible: their order is not defined.
 */
export function visibleOutputs(run: Run, stage: number, index: number): Record<string, string> {
  // Outputs are screened when recorded; screened again here for runs recorded before the rule (one rule, one
  // function: `outputRefusal`).
  const declared = declaredNames(run);
  const visible: Record<string, string> = {};
  const defs = runStagesOf(run.definition);
  const name = defs[stage]?.tasks[index]?.name ?? "";
  const upstream = upstreamOf(defs.slice(stage, stage + 1), name);
  for (const [s, state] of run.stages.entries()) {
    if (s > stage) break;
    for (const [t, task] of state.tasks.entries()) {
      if (s === stage && state.parallel && !upstream.has(task.name)) continue;
      if (s === stage && !state.parallel && t >= index) break;
      for (const [key, value] of Object.entries(task.outputs))
        if (OUTPUT_VARIABLE_NAME.test(key) && !outputRefusal(key, declared)) visible[key] = value;
    }
  }
  return visible;
}

/**
 * Everything a task's attempt needs, with the contract's precedence (low to high): job defaults < task params <
 * pipeline params < run params < system variables. Outputs of earlier tasks only take names none of these
 * declare (see `outputRefusal`); they are layered first, so that even a slip could not override a declared name.
 */
export function renderTask(run: Run, taskName: string, attempt: number, jobName: string): RenderResult {
  const found = findTask(run, taskName);
  if (!found) return { ok: false, reason: "InvalidSpec", message: `no task "${taskName}" in this run` };
  const { def } = found;
  const job = def.job === undefined ? undefined : run.jobs[def.job];
  if (def.job !== undefined && !job)
    return { ok: false, reason: "InvalidSpec", message: `job template "${def.job}" is not part of this run` };

  const sensitive = sensitiveNames(run);
  const allowed = sensitiveNamesFor(def, job);
  // Sensitive values this task did not ask for never reach it, nor do values built from them; a fork's pull
  // request run gets none at all until it is trusted.
  const untrustedRun = isUntrustedRun(run);
  const withheld = new Set([...sensitive].filter((name) => untrustedRun || !allowed.has(name)));
  const forkNote = "is sensitive and withheld from a fork's pull request until the run is trusted";
  const raw = new Map<string, Variable & { isParam: boolean }>();
  const layer = (values: Record<string, string>, untrusted: boolean, isParam: boolean) => {
    for (const [name, value] of Object.entries(values))
      if (!withheld.has(name)) raw.set(name, { value, untrusted, sensitive: sensitive.has(name), isParam });
  };
  layer(visibleOutputs(run, found.stage, found.index), true, false);
  layer(
    Object.fromEntries(
      (job?.params ?? []).flatMap((p) => (p.default === undefined ? [] : [[p.name, p.default]])),
    ),
    false,
    true,
  );
  layer(def.params ?? {}, false, true);
  layer(run.definition.params, false, true);
  layer(run.params, false, true);
  const finallyStatus = run.stages[found.stage]?.finally
    ? { HOOKFLOW_RUN_STATUS: firstFault(run, { mainOnly: true }) ? "failed" : "succeeded" }
    : {};
  for (const [name, value] of Object.entries({ ...run.variables, HOOKFLOW_TASK: taskName, ...finallyStatus }))
    raw.set(name, { value, untrusted: UNTRUSTED_VARIABLES.has(name), sensitive: false, isParam: false });

  // Param values may reference other variables; one pass, against the raw values.
  const vars = new Map<string, Variable>();
  for (const [name, v] of raw) {
    if (!v.isParam) {
      vars.set(name, v);
      continue;
    }
    const refs = referencesIn(v.value);
    if (refs.some((ref) => withheld.has(ref))) continue;
    const missing = refs.find((ref) => !raw.has(ref));
    if (missing) return missingVariable(`param ${name} references \${${missing}}, which is not set`);
    vars.set(name, {
      value: substitute(v.value, (ref) => raw.get(ref)?.value),
      untrusted: v.untrusted || refs.some((ref) => raw.get(ref)?.untrusted),
      sensitive: v.sensitive || refs.some((ref) => raw.get(ref)?.sensitive),
    });
  }

  for (const name of def.secrets ?? [])
    if (!vars.has(name))
      return missingVariable(
        untrustedRun && sensitive.has(name)
          ? `secret ${name} ${forkNote}`
          : `secret ${name} is listed in secrets but no pipeline or run param sets it`,
      );
  for (const param of job?.params ?? []) {
    const value = vars.get(param.name)?.value;
    if (param.required && (value === undefined || value === ""))
      return missingVariable(
        untrustedRun && param.sensitive
          ? `required param ${param.name} of job "${job?.name}" ${forkNote}`
          : `required param ${param.name} of job "${job?.name}" is not set`,
      );
    const problem = value === undefined ? undefined : enumProblem(param, value);
    if (problem) return invalid(`param ${param.name} is "${value}"; it ${problem}`);
  }

  const env: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  for (const [name, v] of vars) (v.sensitive ? secretEnv : env)[name] = v.value;

  const base = {
    runId: run.id,
    pipeline: run.pipeline,
    task: taskName,
    attempt,
    jobName,
    timeoutSeconds: def.timeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS,
    env,
    secretEnv,
  };
  if (def.run) {
    const unresolved = referencesIn(def.run.image).find((ref) => !usableInSpec(vars.get(ref)));
    if (unresolved) return missingVariable(`run.image references \${${unresolved}}, which is not set`);
    return {
      ok: true,
      launch: {
        ...base,
        // The command is never substituted: a shell in the container reads variables from its environment.
        source: { ...def.run, kind: "run", image: substitute(def.run.image, (ref) => vars.get(ref)?.value) },
      },
    };
  }
  const rendered = substituteManifest((job as JobTemplate).template, vars);
  if ("reason" in rendered) return rendered;
  return {
    ok: true,
    launch: {
      ...base,
      source: { kind: "job", template: (job as JobTemplate).name, manifest: rendered.manifest },
    },
  };
}

/**
 * Kubernetes itself expands `$(NAME)` in command and args from the container's env; for an untrusted NAME that
 * would splice its value into the command line, so such a reference is escaped (`$$(NAME)` reads as `$(NAME)`).
 */
function escapeUntrustedExpansion(text: string, vars: Map<string, Variable>): string {
  return text.replace(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) =>
    vars.get(name)?.untrusted ? `$${whole}` : whole,
  );
}

const usableInSpec = (v: Variable | undefined): v is Variable => v !== undefined && !v.sensitive;

/**
 * Substitutes `${NAME}` inside the manifest's parsed string values, so no value can change its structure.
 * In a container's command and args only trusted values are substituted; other references stay as written for
 * the container's shell to read from its environment. A failure names the field at fault.
 */
function substituteManifest(
  manifest: Record<string, unknown>,
  vars: Map<string, Variable>,
): { manifest: Record<string, unknown> } | RenderFailure {
  let problem: RenderFailure | undefined;
  const walk = (value: unknown, path: PropertyKey[]): unknown => {
    if (typeof value === "string") {
      const where = formatPath(path);
      if (COMMAND_LINE.test(where))
        return escapeUntrustedExpansion(
          substitute(value, (ref) => {
            const v = vars.get(ref);
            return v && !v.untrusted && !v.sensitive ? v.value : undefined;
          }),
          vars,
        );
      for (const ref of referencesIn(value)) {
        const v = vars.get(ref);
        if (v?.sensitive)
          problem ??= invalid(
            `sensitive param ${ref} cannot be written into the template at ${where}; the container gets it as env ${ref} from a Secret`,
          );
        else if (!v)
          problem ??= missingVariable(`template field ${where} references \${${ref}}, which is not set`);
      }
      return substitute(value, (ref) => vars.get(ref)?.value);
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
    if (value !== null && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    return value;
  };
  const result = walk(manifest, []) as Record<string, unknown>;
  return problem ?? { manifest: result };
}

const missingVariable = (message: string): RenderFailure => ({
  ok: false,
  reason: "MissingVariable",
  message,
});
const invalid = (message: string): RenderFailure => ({ ok: false, reason: "InvalidSpec", message });
