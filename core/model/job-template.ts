import * as z from "zod/mini";
import { compileGlobList } from "./glob.js";
import type { Issue } from "./issues.js";
import { formatPath } from "./issues.js";
import { byteLength, LIMITS } from "./limits.js";
import { type Pipeline, ResourceName, tasksOf } from "./pipeline.js";
import { schema } from "./schema.js";
import {
  controlCharactersIn,
  referencesIn,
  SYSTEM_VARIABLES,
  stringsIn,
  VARIABLE_NAME,
} from "./variables.js";

export const JobParam = /* @__PURE__ */ schema(() =>
  z.strictObject({
    name: z.string().check(z.regex(VARIABLE_NAME, "letters, digits and '_', not starting with a digit")),
    default: z.optional(z.pipe(z.union([z.string(), z.number(), z.boolean()]), z.transform(String))),
    required: z._default(z.boolean(), false),
    sensitive: z._default(z.boolean(), false),
    enum: z.optional(z.array(z.string()).check(z.minLength(1))),
    description: z.optional(z.string().check(z.maxLength(1024))),
  }),
);
export type JobParam = z.infer<typeof JobParam>;

const Container = /* @__PURE__ */ schema(() =>
  z.looseObject({
    name: z.string().check(z.minLength(1)),
    image: z.string().check(z.minLength(1)),
    command: z.optional(z.array(z.string())),
    args: z.optional(z.array(z.string())),
  }),
);

/** A batch/v1 Job manifest; hookflow checks the fields it relies on and keeps every other field as written. */
export const JobManifest = /* @__PURE__ */ schema(() =>
  z.looseObject({
    apiVersion: z.literal("batch/v1"),
    kind: z.literal("Job"),
    metadata: z.optional(z.looseObject({})),
    spec: z.looseObject({
      template: z.looseObject({
        metadata: z.optional(z.looseObject({})),
        spec: z.looseObject({
          containers: z.array(Container).check(z.minLength(1, "a Job has at least one container")),
        }),
      }),
    }),
  }),
);
export type JobManifest = z.infer<typeof JobManifest>;

/**
 * A container's command and args, where hookflow substitutes only trusted values and leaves other references as
 * written for the container's shell (a path as `formatPath` writes it, from the manifest's root).
 */
export const COMMAND_LINE =
  /^spec\.template\.spec\.(containers|initContainers)\[\d+\]\.(command|args)\[\d+\]$/;

/**
 * `${NAME}` references to sensitive names in a template's fields, as `[field, name, path]`. A sensitive value is
 * given to the container as env from a Secret; written into a field it would sit in the Job's spec for anyone who
 * can read Jobs. In a command or args it stays as written, for the shell, so those are not counted.
 */
function* sensitiveWrites(
  job: { template: unknown },
  sensitive: ReadonlySet<string>,
): Generator<[string, string, PropertyKey[]]> {
  if (sensitive.size === 0) return;
  for (const [text, path] of stringsIn(job.template, ["template"])) {
    if (COMMAND_LINE.test(formatPath(path.slice(1)))) continue;
    for (const name of referencesIn(text)) if (sensitive.has(name)) yield [formatPath(path), name, path];
  }
}

export const JobTemplate = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      name: ResourceName,
      description: z.optional(z.string().check(z.maxLength(1024))),
      params: z._default(z.array(JobParam), []),
      /**
       * Rules every task using this template gets, from the API or a repository's file, which no pipeline can
       * loosen: its approvers replace the task's own, it runs only on these branches (skipped elsewhere), and
       * `forks: false` keeps it from pull requests whose head is a fork.
       */
      requires: z.optional(
        z.strictObject({
          approval: z.optional(
            z.strictObject({
              approvers: z
                .array(z.string().check(z.minLength(1)))
                .check(z.minLength(1, "at least one approver")),
            }),
          ),
          branches: z.optional(
            z
              .array(z.string().check(z.minLength(1, "an empty pattern matches nothing")))
              .check(z.minLength(1)),
          ),
          forks: z.optional(z.boolean()),
        }),
      ),
      template: JobManifest,
    })
    .check(
      z.superRefine((job, ctx) => {
        const seen = new Set<string>();
        for (const [i, param] of job.params.entries()) {
          if (seen.has(param.name))
            ctx.addIssue({
              code: "custom",
              path: ["params", i, "name"],
              message: `duplicate param "${param.name}"`,
            });
          seen.add(param.name);
          if (param.default !== undefined && param.enum && !param.enum.includes(param.default))
            ctx.addIssue({
              code: "custom",
              path: ["params", i, "default"],
              message: `"${param.default}" is not one of ${param.enum.join(", ")}`,
            });
        }
        for (const [path, message] of controlCharactersIn(job))
          ctx.addIssue({ code: "custom", path, message });
        const sensitive = new Set(job.params.filter((p) => p.sensitive).map((p) => p.name));
        for (const [, name, path] of sensitiveWrites(job, sensitive))
          ctx.addIssue({
            code: "custom",
            path,
            message: `sensitive param ${name} cannot be written into a template field; the container gets it as env ${name} from a Secret (read it there, or in command/args as \${${name}} for the shell)`,
          });
        if (job.requires?.branches) {
          const compiled = compileGlobList(job.requires.branches);
          if (!compiled.ok)
            ctx.addIssue({
              code: "custom",
              path:
                compiled.index === undefined
                  ? ["requires", "branches"]
                  : ["requires", "branches", compiled.index],
              message: compiled.problem,
            });
        }
        const bytes = byteLength(JSON.stringify(job));
        if (bytes > LIMITS.jobTemplateBytes)
          ctx.addIssue({
            code: "custom",
            path: [],
            message: `${bytes} bytes; a job template has at most ${LIMITS.jobTemplateBytes}`,
          });
      }),
    ),
);
export type JobTemplate = z.infer<typeof JobTemplate>;
export type JobTemplateInput = z.input<typeof JobTemplate>;

/**
 * `${NAME}` references that no declared param or system variable provides. They may still come from an earlier
 * task's outputs, so they are warnings, not errors; a reference still unresolved when the task is submitted
 * fails that task with a message naming it.
 */
export function jobTemplateWarnings(job: JobTemplate): Issue[] {
  const known = new Set<string>([...SYSTEM_VARIABLES, ...job.params.map((p) => p.name)]);
  const warnings: Issue[] = [];
  for (const [text, path] of stringsIn(job.template, ["template"]))
    for (const name of referencesIn(text))
      if (!known.has(name))
        warnings.push({
          path: formatPath(path),
          message: `\${${name}} is neither a param of this job nor a system variable; it must be an output of an earlier task`,
        });
  return warnings;
}

/**
 * Checks a pipeline against the job templates it names. Errors: an unknown template, templates too large to
 * store with a run. Warnings: references nothing declares (they may be outputs), required params no
 * definition provides (a manual run or an output may still provide them).
 */
export function checkPipelineJobs(
  pipeline: Pipeline,
  jobs: ReadonlyMap<string, JobTemplate>,
): { issues: Issue[]; warnings: Issue[] } {
  const issues: Issue[] = [];
  const warnings: Issue[] = [];
  const used = new Set<string>();
  // Built once; each task adds only its own names (the work grows with the definition, not tasks × params).
  const pipelineKnown = new Set<string>([...SYSTEM_VARIABLES, ...Object.keys(pipeline.params)]);
  const sensitiveAnywhere = new Set<string>();
  for (const job of jobs.values()) for (const p of job.params) if (p.sensitive) sensitiveAnywhere.add(p.name);
  for (const { task, path } of tasksOf(pipeline)) {
    for (const [i, name] of (task.secrets ?? []).entries())
      if (!sensitiveAnywhere.has(name))
        issues.push({
          path: formatPath([...path, "secrets", i]),
          message: `${name} is not declared sensitive by any job template; only sensitive params are listed here`,
        });
    if (task.run)
      for (const name of referencesIn(task.run.image))
        if (sensitiveAnywhere.has(name))
          issues.push({
            path: formatPath([...path, "run", "image"]),
            message: `sensitive param ${name} cannot be written into run.image; list it in secrets and read it from the environment`,
          });
    const own = new Set<string>(Object.keys(task.params ?? {}));
    const job = task.job === undefined ? undefined : jobs.get(task.job);
    if (task.job !== undefined && !job) {
      issues.push({ path: formatPath([...path, "job"]), message: `unknown job template "${task.job}"` });
      continue;
    }
    if (job) {
      used.add(job.name);
      for (const param of job.params) {
        own.add(param.name);
        const given = param.name in (task.params ?? {}) || param.name in pipeline.params;
        if (param.required && param.default === undefined && !given)
          warnings.push({
            path: formatPath([...path, "params"]),
            message: `required param ${param.name} of job "${job.name}" is not set here; the run must provide it`,
          });
      }
    }
    const checked: Array<[string, PropertyKey[]]> = [
      ...stringsIn(task.params ?? {}, [...path, "params"]),
      ...(task.run ? [[task.run.image, [...path, "run", "image"]] as [string, PropertyKey[]]] : []),
    ];
    for (const [text, at] of checked)
      for (const name of referencesIn(text))
        if (!pipelineKnown.has(name) && !own.has(name))
          warnings.push({
            path: formatPath(at),
            message: `\${${name}} is not a param or system variable; it must be an output of an earlier task`,
          });
  }
  // A name sensitive anywhere in the run is sensitive for every template of it: one that declares the name plainly
  // and writes it into a field would fail when its task is submitted, so it is refused here.
  const runSensitive = new Set<string>();
  for (const name of used)
    for (const p of jobs.get(name)?.params ?? []) if (p.sensitive) runSensitive.add(p.name);
  for (const { task } of tasksOf(pipeline)) for (const name of task.secrets ?? []) runSensitive.add(name);
  const reported = new Set<string>();
  if (runSensitive.size > 0)
    for (const { task, path } of tasksOf(pipeline)) {
      const job = task.job === undefined ? undefined : jobs.get(task.job);
      if (!job || reported.has(job.name)) continue;
      reported.add(job.name);
      for (const [field, name] of sensitiveWrites(job, runSensitive))
        issues.push({
          path: formatPath([...path, "job"]),
          message: `job template "${job.name}" writes ${name} into ${field}, and ${name} is sensitive in this pipeline; read it from the environment instead`,
        });
    }
  const templateBytes = [...used].reduce((sum, name) => sum + byteLength(JSON.stringify(jobs.get(name))), 0);
  if (templateBytes > LIMITS.jobTemplatesPerPipelineBytes)
    issues.push({
      path: "stages",
      message: `the job templates used are ${templateBytes} bytes together; at most ${LIMITS.jobTemplatesPerPipelineBytes} fit in a run`,
    });
  return { issues, warnings };
}
