import { createHash } from "node:crypto";
import {
  deliveryRunId,
  pipelineMatches,
  scheduleKey,
  skipCiMarker,
  watchesPullRequestPaths,
} from "../engine/index.js";
import { PermanentError } from "../errors.js";
import type { JobTemplate, Pipeline, Provider, TriggerContext } from "../model/index.js";
import type {
  Clock,
  CommitStatusReporter,
  Logger,
  PullRequestDetails,
  RepositoryScheduleStore,
} from "../ports.js";
import { DefinitionCatalog, repositoryKey } from "./catalog.js";
import {
  type DefinitionProblem,
  describeProblem,
  type RepositoryDefinitions,
  type RepositoryPipeline,
  type RepositoryPipelines,
} from "./repository-pipelines.js";
import type { RunStarter } from "./start-runs.js";

export interface IngestDeps {
  catalog: DefinitionCatalog;
  starter: RunStarter;
  clock: Clock;
  /**
   * What a pull request's payload lacks (changed files for `paths`, the head commit's message for `[skip ci]`),
   * from the host's API, asked only when it decides something; unknown by default.
   */
  pullRequestDetails?: PullRequestDetails;
  /** Pipelines from the files of enabled repositories; without it, only the API's. */
  repositoryPipelines?: RepositoryPipelines;
  /** Where the schedules a push's files declare for its branch are recorded, for the reconciler's tick. */
  repositorySchedules?: Pick<RepositoryScheduleStore, "replace">;
  /** Where a definition error in a repository's file is reported, as a failed status on the commit. */
  commitStatus?: CommitStatusReporter;
  publicUrl?: string;
  log?: Logger;
}

/** The commit status context under which a repository's definition errors are reported. */
export const DEFINITIONS_CONTEXT = "hookflow/definitions";

export type Ingested =
  | { outcome: "created" | "repeated"; delivery: string; runs: Array<{ id: string; pipeline: string }> }
  /** The body was accepted before under another delivery id: `runs` are the ones it made then. */
  | { outcome: "replayed"; delivery: string; replayOf: string; runs: Array<{ id: string; pipeline: string }> }
  | { outcome: "ignored"; delivery: string; reason: string };

/**
 * Turns a verified git delivery into runs: one per matching pipeline, with an id derived from (provider,
 * delivery, pipeline), stored with a conditional write, then queued; only then is the delivery accepted. So one
 * write and one message per delivery. A repeated delivery addresses the same runs: it creates none and queues
 * them again, which is harmless (applying an event twice changes nothing), so a failure before the answer never
 * blocks the git host's retry. Runs are per (delivery, pipeline): a pipeline added since the first delivery gets
 * its run from a repeat.
 *
 * A delivery id is not signed, so a signed body resent under a new id would start its runs again: the body's
 * SHA-256 is claimed for its first delivery id (for the delivery TTL) as its runs are stored
 * (`RunStarter.startDelivered`), and a body already claimed by another id is a replay, which stores nothing and is
 * answered with the runs it made. A reopened pull request, a schedule or a manual run never arrive as an identical
 * body.
 */
export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  /** `body`: the delivery's body as verified (the signature covers its UTF-8 bytes). */
  async ingest(
    provider: Provider,
    deliveryId: string,
    context: TriggerContext,
    body: string,
  ): Promise<Ingested> {
    // Before any other work; a pull request whose payload has no message is looked at again below.
    const skipped = skipAnswer(deliveryId, context.message);
    if (skipped) return skipped;
    const { catalog } = this.deps;
    const { pipelines, enabledRepositories } = await catalog.snapshot();
    // The job templates are read only when needed: an enabled repository's files, or a pipeline naming one.
    let jobs = enabledRepositories.has(repositoryKey(provider, context.repository))
      ? await catalog.jobs()
      : undefined;
    const fromRepository = jobs && (await this.repositoryPipelines(provider, context, jobs));
    if (fromRepository && fromRepository.problems.length > 0)
      await this.reportProblems(context, fromRepository.problems);
    if (fromRepository) await this.recordSchedules(context, fromRepository.pipelines);
    const matched = await this.matchingPipelines(
      [...pipelines, ...(fromRepository?.pipelines.map((p) => p.pipeline) ?? [])],
      context,
    );
    const { matching } = matched;
    if (matching.length === 0) {
      const problem = fromRepository?.problems[0];
      return {
        outcome: "ignored",
        delivery: deliveryId,
        reason: `no pipeline matches ${describe(context)}${problem ? `; the repository's definitions are invalid: ${describeProblem(problem)}` : ""}`,
      };
    }
    const trigger = await this.withHeadMessage(matched.context);
    const skippedHead = skipAnswer(deliveryId, trigger.message);
    if (skippedHead) return skippedHead;

    jobs ??= matching.some(DefinitionCatalog.namesJobs) ? await catalog.jobs() : new Map();
    const requests = matching.map((pipeline) => ({
      id: deliveryRunId(provider, deliveryId, pipeline.name),
      pipeline,
      jobs: DefinitionCatalog.jobsOf(pipeline, jobs),
      trigger: { ...trigger, deliveryId },
    }));
    const started = await this.deps.starter.startDelivered(
      requests,
      { kind: "gitHost", provider, delivery: deliveryId },
      sha256(body),
    );
    if ("heldBy" in started)
      return {
        outcome: "replayed",
        delivery: deliveryId,
        replayOf: started.heldBy.id,
        runs: started.heldBy.runs,
      };
    const { runs, created } = started;
    return {
      outcome: created.every(Boolean) ? "created" : "repeated",
      delivery: deliveryId,
      runs: runs.map((r) => ({ id: r.id, pipeline: r.pipeline })),
    };
  }

  /** A pull request runs the base branch's definitions, never its head's: the head may be anyone's fork. */
  private repositoryPipelines(
    provider: Provider,
    context: TriggerContext,
    jobs: ReadonlyMap<string, JobTemplate>,
  ): Promise<RepositoryDefinitions | undefined> {
    const files = this.deps.repositoryPipelines;
    if (!files) return Promise.resolve(undefined);
    return context.pullRequest
      ? files.at(provider, context.repository, context.pullRequest.baseBranch, jobs, false)
      : files.at(provider, context.repository, context.commit, jobs);
  }

  /**
   * The pipelines the event starts. A pull request's changed files are asked of the host only when a pipeline
   * that matches on everything else filters on `paths`: no other delivery asks for them.
   */
  private async matchingPipelines(
    pipelines: Pipeline[],
    context: TriggerContext,
  ): Promise<{ matching: Pipeline[]; context: TriggerContext }> {
    const matching = pipelines.filter((p) => pipelineMatches(p, context));
    const pr = context.pullRequest;
    if (!pr || context.changedFiles || !matching.some(watchesPullRequestPaths)) return { matching, context };
    const changedFiles = await this.details.changedFiles(pullRequestRef(context, pr));
    if (changedFiles === undefined) return { matching, context };
    const known = { ...context, changedFiles };
    return { matching: matching.filter((p) => pipelineMatches(p, known)), context: known };
  }

  /**
   * A push to a branch of an enabled repository shows that branch's file: the schedules in it that build this
   * branch are recorded (and those gone from it forgotten), so the reconciler's tick knows what may be due
   * without asking the host. A schedule for another branch counts only in that branch's own file.
   */
  private async recordSchedules(context: TriggerContext, pipelines: RepositoryPipeline[]): Promise<void> {
    const branch = context.branch;
    if (context.event !== "push" || context.pullRequest || branch === undefined) return;
    const schedules = pipelines.flatMap(({ pipeline }) =>
      (pipeline.schedules ?? [])
        .filter((schedule) => schedule.branch === branch)
        .map((schedule) => ({ pipeline: pipeline.name, key: scheduleKey(schedule), schedule })),
    );
    await this.deps.repositorySchedules?.replace(
      context.provider,
      context.repository,
      branch,
      schedules,
      this.deps.clock.now(),
    );
  }

  /**
   * The context with its head commit's message, asked of the host for a pull request whose payload has none
   * (GitHub's and Gitea's), once a run would start: `[skip ci]` then starts nothing, as for a push, and tasks
   * see the message. A message the host cannot give stays empty, and the runs start.
   */
  private async withHeadMessage(context: TriggerContext): Promise<TriggerContext> {
    const pr = context.pullRequest;
    if (!pr || context.message !== "") return context;
    const message = await this.details.headMessage(pullRequestRef(context, pr), context.commit);
    return message ? { ...context, message } : context;
  }

  private get details(): PullRequestDetails {
    return this.deps.pullRequestDetails ?? unknownPullRequestDetails;
  }

  /**
   * A broken definition is never a silent skip: a failed status on the commit says what and where. A status
   * the host refuses for good is logged (a retry would not help); a passing failure fails the delivery, which
   * the host then redelivers.
   */
  private async reportProblems(context: TriggerContext, problems: DefinitionProblem[]): Promise<void> {
    const { commitStatus, publicUrl, log } = this.deps;
    const first = problems[0] as DefinitionProblem;
    const description = `${describeProblem(first)}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`;
    log?.warn("repository definitions invalid", {
      provider: context.provider,
      repository: context.repository,
      commit: context.commit,
      problems: problems.map(describeProblem),
    });
    if (!commitStatus?.enabledFor(context.provider) || !/^[0-9a-f]{40}$/.test(context.commit)) return;
    try {
      await commitStatus.report({
        provider: context.provider,
        repository: context.repository,
        commit: context.commit,
        state: "failure",
        context: DEFINITIONS_CONTEXT,
        description,
        targetUrl: `${publicUrl ?? ""}/api/repositories/${context.provider}/${encodeURIComponent(context.repository)}`,
      });
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      log?.error("definition error status refused", { repository: context.repository, error: error.message });
    }
  }
}

/** Without a host API: nothing known, so `paths` filters run the pipeline and nothing is skipped. */
export const unknownPullRequestDetails: PullRequestDetails = {
  changedFiles: async () => undefined,
  headMessage: async () => undefined,
};

const pullRequestRef = (context: TriggerContext, pr: { number: number }) => ({
  provider: context.provider,
  repository: context.repository,
  number: pr.number,
});

/** `[skip ci]` or `[ci skip]` in the head commit's message: the delivery starts nothing, and says so. */
function skipAnswer(delivery: string, message: string): Ingested | undefined {
  const marker = skipCiMarker(message);
  return marker === undefined
    ? undefined
    : { outcome: "ignored", delivery, reason: `the head commit's message says ${marker}` };
}

const sha256 = (body: string) => createHash("sha256").update(body, "utf8").digest("hex");

function describe(ctx: TriggerContext): string {
  const what =
    ctx.event === "tag"
      ? `tag ${ctx.tag}`
      : ctx.pullRequest
        ? `pull request #${ctx.pullRequest.number} into ${ctx.pullRequest.baseBranch}`
        : `push to ${ctx.branch}`;
  return `${ctx.provider} ${ctx.repository} ${what}`;
}
