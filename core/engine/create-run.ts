import {
  clipText,
  type JobTemplate,
  LIMITS,
  type Pipeline,
  type Run,
  runStagesOf,
  substitute,
  type TriggerContext,
} from "../model/index.js";

export interface CreateRunInput {
  id: string;
  pipeline: Pipeline;
  /** The job templates the pipeline names, snapshotted with the run. */
  jobs: Record<string, JobTemplate>;
  trigger: TriggerContext;
  /** Params of a manual run. */
  params?: Record<string, string>;
  /** Whether commit statuses are reported for this run (a token for its git host is configured). */
  commitStatus?: boolean;
  now: string;
}

/** A new run: every task pending, run-level variables resolved. It starts when `run.created` admits it. */
export function createRun(input: CreateRunInput): Run {
  const { id, pipeline, trigger, now } = input;
  const { changedFiles: _, ...storedTrigger } = trigger;
  storedTrigger.message = clipText(trigger.message, LIMITS.commitMessageBytes);
  const variables = runVariables(id, pipeline.name, storedTrigger, now);
  const concurrencyGroup = pipeline.concurrency
    ? scopedGroup(
        storedTrigger,
        substitute(pipeline.concurrency.group, (name) => variables[name] ?? pipeline.params[name]),
      )
    : undefined;
  return {
    id,
    pipeline: pipeline.name,
    status: "pending",
    reason: "Created",
    trigger: storedTrigger,
    definition: pipeline,
    jobs: input.jobs,
    params: input.params ?? {},
    variables,
    ...(concurrencyGroup !== undefined && { concurrencyGroup }),
    commitStatus: input.commitStatus ?? false,
    round: 0,
    stages: runStagesOf(pipeline).map((stage, s) => ({
      name: stage.name,
      parallel: stage.parallel,
      ...(s === pipeline.stages.length && { finally: true }),
      tasks: stage.tasks.map((task) => ({
        name: task.name,
        status: "pending",
        reason: "Pending",
        attempt: 0,
        roundStart: 0,
        outputs: {},
      })),
    })),
    outbox: [],
    deliveryFailures: [],
    createdAt: now,
    updatedAt: now,
    tokens: "attempt",
    version: 0,
  };
}

export function runVariables(
  runId: string,
  pipeline: string,
  trigger: Omit<TriggerContext, "changedFiles">,
  now: string,
): Record<string, string> {
  return {
    HOOKFLOW_RUN_ID: runId,
    HOOKFLOW_PIPELINE: pipeline,
    GIT_PROVIDER: trigger.provider,
    GIT_REPOSITORY: trigger.repository,
    GIT_CLONE_URL: trigger.cloneUrl,
    GIT_REF: trigger.ref,
    GIT_BRANCH: trigger.branch ?? "",
    GIT_TAG: trigger.tag ?? "",
    GIT_COMMIT: trigger.commit,
    GIT_COMMIT_MESSAGE: trigger.message,
    GIT_AUTHOR: trigger.author,
    APP_VERSION: appVersion(trigger, now),
    GIT_PULL_REQUEST: trigger.pullRequest ? String(trigger.pullRequest.number) : "",
    GIT_BASE_BRANCH: trigger.pullRequest?.baseBranch ?? "",
  };
}

/**
 * A concurrency group belongs to its repository, as in GitHub Actions: the same group written by two
 * repositories' pipelines (`pr-${GIT_PULL_REQUEST}`) never makes one cancel or wait for the other. Two pipelines
 * of one repository share a group unless it names `${HOOKFLOW_PIPELINE}`.
 */
export function scopedGroup(trigger: Pick<TriggerContext, "provider" | "repository">, group: string): string {
  return `${trigger.provider}:${trigger.repository.toLowerCase()}:${group}`;
}

/** Characters allowed in an image tag; APP_VERSION is built from them only, so it is safe anywhere. */
const TAG_UNSAFE = /[^A-Za-z0-9_.-]+/g;
const IMAGE_TAG_MAX = 128;

/** A tag's own name, or `YYYYMMDD-<branch>-<commit8>` for a branch, in image-tag characters. */
export function appVersion(trigger: Pick<TriggerContext, "tag" | "branch" | "commit">, now: string): string {
  if (trigger.tag) return clean(trigger.tag).slice(0, IMAGE_TAG_MAX) || "tag";
  const date = now.slice(0, 10).replaceAll("-", "");
  const commit = clean(trigger.commit).slice(0, 8);
  const room = IMAGE_TAG_MAX - date.length - commit.length - 2;
  const branch =
    clean(trigger.branch ?? "")
      .slice(0, room)
      .replace(/[-.]+$/, "") || "detached";
  return [date, branch, commit].filter(Boolean).join("-");
}

function clean(text: string): string {
  return text.replace(TAG_UNSAFE, "-").replace(/^[-.]+/, "");
}
