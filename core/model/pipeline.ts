import * as z from "zod/mini";
import { notifyUrlProblem } from "./addresses.js";
import { compileGlobList } from "./glob.js";
import { needsProblems } from "./graph.js";
import {
  byteLength,
  DEFAULT_MAX_RUNNING_TASKS,
  LIMITS,
  MAX_BACKOFF_SECONDS,
  MAX_CONCURRENT_RUNS,
  MAX_RETRIES,
  MAX_RUN_TIMEOUT_SECONDS,
  MAX_TASK_TIMEOUT_SECONDS,
} from "./limits.js";
import { Schedule } from "./schedule.js";
import { schema } from "./schema.js";
import {
  controlCharactersIn,
  RUN_VARIABLES,
  referencesIn,
  SYSTEM_VARIABLES,
  VARIABLE_NAME,
} from "./variables.js";

export const RESOURCE_NAME = /^[a-z0-9][a-z0-9-]*$/;
export const ResourceName = /* @__PURE__ */ schema(() =>
  z
    .string()
    .check(
      z.maxLength(63, "at most 63 characters"),
      z.regex(RESOURCE_NAME, "lowercase letters, digits and '-', starting with a letter or digit"),
    ),
);

export const Provider = /* @__PURE__ */ schema(() => z.enum(["github", "gitlab", "gitea"]));
export type Provider = z.infer<typeof Provider>;
/** What a trigger listens to; `pull_request` covers GitHub and Gitea pull requests and GitLab merge requests. */
export const GitEvent = /* @__PURE__ */ schema(() => z.enum(["push", "tag", "pull_request"]));
export type GitEvent = z.infer<typeof GitEvent>;
/** What started a run: a git event, or a person through the API. */
export const TriggerEvent = /* @__PURE__ */ schema(() =>
  z.enum(["push", "tag", "pull_request", "manual", "schedule"]),
);
export type TriggerEvent = z.infer<typeof TriggerEvent>;

export const NotifyEvent = /* @__PURE__ */ schema(() =>
  z.enum([
    "run.started",
    "run.succeeded",
    "run.failed",
    "run.canceled",
    "task.waiting",
    "task.failed",
    "task.succeeded",
  ]),
);
export type NotifyEvent = z.infer<typeof NotifyEvent>;
export const NotifierKind = /* @__PURE__ */ schema(() =>
  z.enum(["feishu", "dingtalk", "wecom", "slack", "webhook"]),
);
export type NotifierKind = z.infer<typeof NotifierKind>;

const Globs = /* @__PURE__ */ schema(() =>
  z.array(z.string().check(z.minLength(1, "an empty pattern matches nothing"))).check(z.minLength(1)),
);
const ParamValue = /* @__PURE__ */ schema(() =>
  z.pipe(z.union([z.string(), z.number(), z.boolean()]), z.transform(String)),
);
export const Params = /* @__PURE__ */ schema(() =>
  z.record(
    z
      .string()
      .check(
        z.regex(VARIABLE_NAME, "a parameter name is letters, digits and '_', not starting with a digit"),
      ),
    ParamValue,
  ),
);
export type Params = Record<string, string>;

export const Trigger = /* @__PURE__ */ schema(() =>
  z.pipe(
    z.strictObject({
      provider: Provider,
      repository: z.string().check(z.minLength(1), z.maxLength(256)),
      events: z.optional(z.array(GitEvent).check(z.minLength(1))),
      branches: z.optional(Globs),
      tags: z.optional(Globs),
      /** Changed files: a push's, or a pull request's (against its base). */
      paths: z.optional(Globs),
    }),
    // Without `events`, a trigger listens to pushes, and to tags too when it names tag patterns.
    z.transform(({ events, ...t }) => ({
      ...t,
      events: events ?? (t.tags ? (["push", "tag"] as GitEvent[]) : (["push"] as GitEvent[])),
    })),
  ),
);
export type Trigger = z.infer<typeof Trigger>;

export const Concurrency = /* @__PURE__ */ schema(() =>
  z.strictObject({
    group: z.string().check(z.minLength(1), z.maxLength(256)),
    cancelInProgress: z._default(z.boolean(), false),
    /** Runs of the group that may be active at once; the oldest go first. */
    max: z._default(z.int().check(z.gte(1), z.lte(MAX_CONCURRENT_RUNS)), 1),
  }),
);

export const Notifier = /* @__PURE__ */ schema(() =>
  z.strictObject({
    kind: NotifierKind,
    url: z.string().check(
      z.url("a URL"),
      // Whether loopback is allowed is the deployment's setting: the definition service applies it.
      z.superRefine((raw, ctx) => {
        const problem = notifyUrlProblem(raw, { allowLoopback: true });
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    ),
    secret: z.optional(z.string().check(z.minLength(1))),
    on: z._default(z.array(NotifyEvent).check(z.minLength(1)), [
      "run.succeeded",
      "run.failed",
      "run.canceled",
      "task.waiting",
    ]),
  }),
);
export type Notifier = z.infer<typeof Notifier>;

export const When = /* @__PURE__ */ schema(() =>
  z.strictObject({
    events: z.optional(z.array(TriggerEvent).check(z.minLength(1))),
    branches: z.optional(Globs),
    tags: z.optional(Globs),
  }),
);
export type When = z.infer<typeof When>;

export const RunSpec = /* @__PURE__ */ schema(() =>
  z.strictObject({
    image: z.string().check(z.minLength(1)),
    command: z.array(z.string()).check(z.minLength(1)),
    args: z.optional(z.array(z.string())),
    workingDir: z.optional(z.string()),
  }),
);
export type RunSpec = z.infer<typeof RunSpec>;

const RetryCount = /* @__PURE__ */ schema(() => z.int().check(z.gte(0), z.lte(MAX_RETRIES)));
/** `retries: N`, or `{limit, backoffSeconds}`: the wait before retry k is backoffSeconds × 2^(k-1). */
export const Retries = /* @__PURE__ */ schema(() =>
  z.union([
    RetryCount,
    z.strictObject({
      limit: RetryCount,
      backoffSeconds: z._default(z.int().check(z.gte(0), z.lte(MAX_BACKOFF_SECONDS)), 0),
    }),
  ]),
);
export type Retries = z.infer<typeof Retries>;

export function retryPolicy(retries: Retries): { limit: number; backoffSeconds: number } {
  return typeof retries === "number" ? { limit: retries, backoffSeconds: 0 } : retries;
}
/** The longest a task may wait for its approval before `onTimeout` decides: 30 days. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 24 * 3600;

/**
 * Who may let a task run, and what happens when nobody decides. `approvers` are usernames or verified emails of
 * signed-in people (or of a person's token). `allowSelfApproval: false` refuses whoever pushed the change (or
 * started the run by hand). After `timeoutSeconds` a waiting task is denied (it fails) or skipped (the run goes
 * on without it), as `onTimeout` says.
 */
export const ApprovalGate = /* @__PURE__ */ schema(() =>
  z.strictObject({
    approvers: z
      .array(z.string().check(z.minLength(1), z.maxLength(256)))
      .check(z.minLength(1, "at least one approver"), z.maxLength(100)),
    allowSelfApproval: z._default(z.boolean(), true),
    timeoutSeconds: z.optional(z.int().check(z.gte(1), z.lte(MAX_APPROVAL_TIMEOUT_SECONDS))),
    onTimeout: z._default(z.enum(["deny", "skip"]), "deny"),
  }),
);
export type ApprovalGate = z.infer<typeof ApprovalGate>;

export const Task = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      name: ResourceName,
      run: z.optional(RunSpec),
      job: z.optional(ResourceName),
      params: z.optional(Params),
      ignoreFailed: z._default(z.boolean(), false),
      when: z.optional(When),
      approval: z.optional(ApprovalGate),
      timeoutSeconds: z.optional(z.int().check(z.gte(1), z.lte(MAX_TASK_TIMEOUT_SECONDS))),
      retries: z._default(Retries, 0),
      /** Tasks that must succeed before this one starts: of its own stage, or of earlier ones. */
      needs: z.optional(z.array(ResourceName).check(z.minLength(1), z.maxLength(LIMITS.tasksPerPipeline))),
      /**
       * Sensitive params a `run` task receives (as env from a Secret). A sensitive value reaches only the tasks
       * that ask for it: a job task through its template's params, a `run` task through this list.
       */
      secrets: z.optional(
        z
          .array(
            z
              .string()
              .check(
                z.regex(VARIABLE_NAME, "a param name: letters, digits and '_', not starting with a digit"),
              ),
          )
          .check(z.maxLength(64)),
      ),
    })
    .check(
      z.superRefine((task, ctx) => {
        if ((task.run === undefined) === (task.job === undefined))
          ctx.addIssue({ code: "custom", message: "a task has exactly one of `run` or `job`", path: [] });
        if (task.secrets !== undefined && task.job !== undefined)
          ctx.addIssue({
            code: "custom",
            message:
              "`secrets` is for `run` tasks; a job task receives the sensitive params its template declares",
            path: ["secrets"],
          });
      }),
    ),
);
export type Task = z.infer<typeof Task>;

export const Stage = /* @__PURE__ */ schema(() =>
  z.strictObject({
    name: ResourceName,
    parallel: z._default(z.boolean(), false),
    tasks: z.array(Task).check(z.minLength(1, "a stage has at least one task")),
  }),
);
export type Stage = z.infer<typeof Stage>;

const PipelineFields = /* @__PURE__ */ schema(() =>
  z.strictObject({
    name: ResourceName,
    description: z.optional(z.string().check(z.maxLength(1024))),
    triggers: z._default(z.array(Trigger), []),
    concurrency: z.optional(Concurrency),
    params: z._default(Params, {}),
    notify: z._default(z.array(Notifier), []),
    /** Runs on a clock; each builds the head of its branch in the repository of the first trigger. */
    schedules: z.optional(z.array(Schedule).check(z.maxLength(10, "at most 10 schedules"))),
    stages: z.array(Stage).check(z.minLength(1, "a pipeline has at least one stage")),
    /** Run after the stages whatever their outcome (side by side), once per round; they see HOOKFLOW_RUN_STATUS. */
    finally: z._default(z.array(Task), []),
    /** The stages' time budget, from the run's start; past it their unfinished tasks fail, and `finally` runs. */
    timeoutSeconds: z.optional(z.int().check(z.gte(1), z.lte(MAX_RUN_TIMEOUT_SECONDS))),
    /**
     * The pipeline's tasks running at once, across all its runs: an attempt holds one of these slots from its
     * submission until it ends; more wait (queued, `WaitingForRoom`) until one frees. One run also queues no more.
     */
    maxRunningTasks: z._default(
      z.int().check(z.gte(1), z.lte(LIMITS.tasksPerPipeline)),
      DEFAULT_MAX_RUNNING_TASKS,
    ),
  }),
);
export const Pipeline = /* @__PURE__ */ schema(() => PipelineFields.check(z.superRefine(checkPipeline)));
export type Pipeline = z.infer<typeof Pipeline>;
export type PipelineInput = z.input<typeof Pipeline>;

/** The name of the stage that holds a run's `finally` tasks. */
export const FINALLY_STAGE = "finally";

function checkPipeline(p: z.output<typeof PipelineFields>, ctx: z.core.$RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", message, path });

  const stageNames = new Set<string>();
  for (const [s, stage] of p.stages.entries()) {
    if (stageNames.has(stage.name)) issue(["stages", s, "name"], `duplicate stage name "${stage.name}"`);
    if (stage.name === FINALLY_STAGE && p.finally.length > 0)
      issue(["stages", s, "name"], `"${FINALLY_STAGE}" names the stage of the finally tasks`);
    stageNames.add(stage.name);
  }
  const taskNames = new Set<string>();
  let taskCount = 0;
  for (const { task, path } of tasksOf(p)) {
    taskCount++;
    // Tasks are addressed by name in the API (/runs/{id}/tasks/{task}), so names are unique per pipeline.
    if (taskNames.has(task.name)) issue([...path, "name"], `duplicate task name "${task.name}"`);
    taskNames.add(task.name);
  }
  const stages = runStagesOf(p);
  const pathOf = (s: number, t: number): PropertyKey[] =>
    s < p.stages.length ? ["stages", s, "tasks", t] : ["finally", t];
  for (const problem of needsProblems(stages, pathOf)) issue(problem.path, problem.message);
  if (taskCount > LIMITS.tasksPerPipeline)
    issue(["stages"], `${taskCount} tasks; a pipeline has at most ${LIMITS.tasksPerPipeline}`);
  const bytes = byteLength(JSON.stringify(p));
  if (bytes > LIMITS.pipelineBytes)
    issue([], `the definition is ${bytes} bytes; at most ${LIMITS.pipelineBytes} fit in a run`);

  for (const [i, trigger] of p.triggers.entries())
    for (const field of ["branches", "tags", "paths"] as const)
      checkGlobs(trigger[field], ["triggers", i, field], issue);
  for (const { task, path } of tasksOf(p))
    for (const field of ["branches", "tags"] as const)
      checkGlobs(task.when?.[field], [...path, "when", field], issue);

  for (const [path, message] of controlCharactersIn(p)) issue(path, message);
  // Credentials in a URL end up in logs and error messages; a target's credential goes in `secret`. (Which
  // addresses a notify URL may name is checked with the URL itself.)
  for (const [i, notifier] of p.notify.entries()) {
    const url = URL.canParse(notifier.url) ? new URL(notifier.url) : undefined;
    if (url && (url.username !== "" || url.password !== ""))
      issue(["notify", i, "url"], "may not carry user:password; a target's credential goes in `secret`");
  }
  if (p.schedules?.length && !p.triggers[0])
    issue(
      ["schedules"],
      "a schedule builds the repository of the pipeline's first trigger, and there is none",
    );

  if (p.concurrency) {
    const known = new Set<string>([...RUN_VARIABLES, ...Object.keys(p.params)]);
    for (const name of referencesIn(p.concurrency.group))
      if (!known.has(name))
        issue(
          ["concurrency", "group"],
          `\${${name}} is not known when a run is created (use a system variable or a pipeline param)`,
        );
  }
}

/** A list of globs is refused when a pattern does not compile or the list is over a limit (see `glob.ts`). */
function checkGlobs(
  globs: string[] | undefined,
  path: PropertyKey[],
  issue: (path: PropertyKey[], message: string) => void,
): void {
  if (globs === undefined) return;
  const compiled = compileGlobList(globs);
  if (!compiled.ok) issue(compiled.index === undefined ? path : [...path, compiled.index], compiled.problem);
}

/** The stages of a pipeline as a run holds them: its stages, then its `finally` tasks as a last parallel stage. */
export function runStagesOf(pipeline: Pick<Pipeline, "stages" | "finally">): Stage[] {
  const finallyTasks = pipeline.finally ?? [];
  return finallyTasks.length === 0
    ? pipeline.stages
    : [...pipeline.stages, { name: FINALLY_STAGE, parallel: true, tasks: finallyTasks }];
}

/** Every task of a pipeline with where it sits, `finally` tasks last. */
export function tasksOf(
  pipeline: Pick<Pipeline, "stages" | "finally">,
): Array<{ stage: Stage; task: Task; path: PropertyKey[] }> {
  return [
    ...pipeline.stages.flatMap((stage, s) =>
      stage.tasks.map((task, t) => ({ stage, task, path: ["stages", s, "tasks", t] as PropertyKey[] })),
    ),
    ...(pipeline.finally ?? []).map((task, t) => ({
      stage: { name: FINALLY_STAGE, parallel: true, tasks: pipeline.finally ?? [] },
      task,
      path: ["finally", t] as PropertyKey[],
    })),
  ];
}

/** Names a task may reference without a warning, before outputs and job params are considered. */
export function staticallyKnownVariables(pipeline: Pipeline, task: Task): Set<string> {
  return new Set<string>([
    ...SYSTEM_VARIABLES,
    ...Object.keys(pipeline.params),
    ...Object.keys(task.params ?? {}),
  ]);
}
