import {
  type CompiledGlob,
  compileGlobList,
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
