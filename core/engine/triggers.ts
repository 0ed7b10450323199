import {
  type CompiledGlob,
  compileGlobList,
  type JobTemplate,
  LIMITS,
  matchGlobs,
  type Pipeline,
  type Task,
  type Trigger,
  type TriggerContext,
} from "../model/index.js";

/**
 * Each list of a definition compiled once while the definition object lives (the webhook's catalogue keeps its
 * definitions for a while). A list refused by today's rules (stored before them) matches nothing.
 */
const compiledLists = new WeakMap<readonly string[], CompiledGlob[]>();
function compiled(globs: readonly string[]): CompiledGlob[] {
  let list = compiledLists.get(globs);
  if (!list) {
    const result = compileGlobList(globs);
    list = result.ok ? result.globs : [];
    compiledLists.set(globs, list);
  }
  return list;
}

/** A branch or tag name against a filter; a name over `LIMITS.refNameLength` matches no pattern, unread. */
const matches = (globs: string[] | undefined, value: string | undefined): boolean =>
  globs === undefined ||
  (value !== undefined && value.length <= LIMITS.refNameLength && matchGlobs(compiled(globs), value));

/** Whether a push's file list is small enough to match; over a limit it counts as unknown. */
function knownFiles(files: readonly string[] | undefined): files is readonly string[] {
  if (files === undefined || files.length > LIMITS.changedFiles) return false;
  let bytes = 0;
  for (const file of files) {
    if (file.length > LIMITS.changedPathLength) return false;
    bytes += file.length;
  }
  return bytes <= LIMITS.changedPathsBytes;
}

/** Whether one trigger of a pipeline fires for a git event. */
export function triggerMatches(trigger: Trigger, ctx: TriggerContext): boolean {
  if (trigger.provider !== ctx.provider) return false;
  if (trigger.repository.toLowerCase() !== ctx.repository.toLowerCase()) return false;
  if (ctx.event === "push") {
    if (!trigger.events.includes("push") || !matches(trigger.branches, ctx.branch)) return false;
    // A push that names its files must touch one the trigger watches.
    return touchesPaths(trigger, ctx);
  }
  if (ctx.event === "tag") return trigger.events.includes("tag") && matches(trigger.tags, ctx.tag);
  if (ctx.event === "pull_request") {
    // For a pull request, `branches` names the branch it would merge into, as in GitHub Actions.
    if (!trigger.events.includes("pull_request") || !matches(trigger.branches, ctx.pullRequest?.baseBranch))
      return false;
    return touchesPaths(trigger, ctx);
  }
  return false;
}

/**
 * Whether the changed files touch one the trigger watches. Files unknown (not listed, or too many to match) run
 * the pipeline: skipping on partial knowledge could let a change through unchecked.
 */
function touchesPaths(trigger: Trigger, ctx: TriggerContext): boolean {
  if (!trigger.paths || !knownFiles(ctx.changedFiles)) return true;
  const paths = compiled(trigger.paths);
  return ctx.changedFiles.some((file) => matchGlobs(paths, file));
}

/** Whether a pull request trigger of this pipeline filters on changed files (so they are worth asking for). */
export function watchesPullRequestPaths(pipeline: Pipeline): boolean {
  return pipeline.triggers.some((t) => t.events.includes("pull_request") && t.paths !== undefined);
}

const SKIP_CI = /\[(skip ci|ci skip)\]/i;

/** The marker in a head commit's message that says "start nothing", or undefined. */
export function skipCiMarker(message: string): string | undefined {
  return SKIP_CI.exec(message)?.[0];
}

export function pipelineMatches(pipeline: Pipeline, ctx: TriggerContext): boolean {
  return pipeline.triggers.some((trigger) => triggerMatches(trigger, ctx));
}

/** A task's `when`: every filter it names must match, or the task is skipped. */
export function whenMatches(
  task: Task,
  ctx: Pick<TriggerContext, "event" | "branch" | "tag" | "pullRequest">,
): boolean {
  const when = task.when;
  if (!when) return true;
  if (when.events && !when.events.includes(ctx.event)) return false;
  // As for triggers: a pull request's branch, for `branches`, is the one it would merge into.
  const branch = ctx.event === "pull_request" ? ctx.pullRequest?.baseBranch : ctx.branch;
  if (when.branches && !matches(when.branches, branch)) return false;
  if (when.tags && !matches(when.tags, ctx.tag)) return false;
  return true;
}

/**
 * Why a task may not run in this run by its job template's `requires`, or undefined. Checked besides the task's
 * own `when`, so no pipeline (from the API or a repository's file) can widen them, and on the run's trigger
 * alone, so trusting a fork's run (`POST /api/runs/{id}/trust`) does not lift them:
 * - `forks: false`: never for a pull request whose head is a fork;
 * - `branches`: only where the branch is one of them. A tag or a manual run of no branch matches none, and
 *   neither does a fork's pull request: its head branch is the fork's, named by whoever owns the fork.
 */
export function jobRequirementProblem(
  task: Task,
  jobs: Readonly<Record<string, JobTemplate>>,
  ctx: Pick<TriggerContext, "branch" | "pullRequest">,
): string | undefined {
  const requires = task.job === undefined ? undefined : jobs[task.job]?.requires;
  if (!requires) return undefined;
  const fork = ctx.pullRequest?.fork === true;
  if (requires.forks === false && fork)
    return `job template ${task.job} never runs for a pull request from a fork`;
  const branches = requires.branches;
  if (branches && (fork || !matches(branches, ctx.branch)))
    return `job template ${task.job} runs only on branches ${branches.join(", ")}${fork ? ", never a fork's" : ""}`;
  return undefined;
}

/**
 * A pipeline with its job templates' `requires.approval` applied: a task using such a template waits for the
 * template's approvers, whatever the task itself says (its own list could add anyone, or be removed).
 */
export function withJobRequirements(
  pipeline: Pipeline,
  jobs: Readonly<Record<string, JobTemplate>>,
): Pipeline {
  const required = (task: Task) => (task.job === undefined ? undefined : jobs[task.job]?.requires?.approval);
  if (!pipeline.stages.some((stage) => stage.tasks.some(required))) return pipeline;
  return {
    ...pipeline,
    stages: pipeline.stages.map((stage) => ({
      ...stage,
      tasks: stage.tasks.map((task) => {
        const approval = required(task);
        if (!approval) return task;
        // The task's own self-approval and timeout rules stay; only who approves is the template's.
        const own = task.approval ?? { allowSelfApproval: true, onTimeout: "deny" as const };
        return { ...task, approval: { ...own, approvers: [...approval.approvers] } };
      }),
    })),
  };
}
