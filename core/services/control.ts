import { enumProblem, jobNameFor, maskText, type RunView, runView, secretValues } from "../engine/index.js";
import { ConflictError, NotFoundError, RetryableError, ValidationError } from "../errors.js";
import {
  type Actor,
  byteLength,
  isActiveTask,
  LIMITS,
  lastLines,
  logTail,
  type Pipeline,
  type Provider,
  type Run,
  type RunStatus,
  type TriggerContext,
  VARIABLE_NAME,
} from "../model/index.js";
import type {
  ArchivedAttempt,
  AttemptKey,
  BranchHead,
  DefinitionStore,
  GitHostApis,
  IdSource,
  LogArchive,
  Page,
  RunStore,
  TaskRunner,
} from "../ports.js";
import { DefinitionCatalog } from "./catalog.js";
import type { RunCommands } from "./commands.js";
import { withoutTimes } from "./log-archiving.js";
import type { RunStarter } from "./start-runs.js";
import type { TaskTokens } from "./tokens.js";

export interface RerunRequest {
  failedOnly?: boolean;
  task?: string;
  downstream?: boolean;
}

export interface ManualRun {
  ref?: string;
  commit?: string;
  params?: Record<string, string>;
}

export interface RunControlDeps {
  runs: RunStore;
  definitions: DefinitionStore;
  commands: RunCommands;
  starter: RunStarter;
  ids: IdSource;
  /** Loaded on first use: only the logs route needs a runner. */
  runner: () => Promise<TaskRunner>;
  /** Loaded on first use: only the logs route reads the log archive. */
  archive: () => Promise<LogArchive>;
  /** To mask a task's own callback token in its logs, when known. */
  tokens?: TaskTokens;
  /** The APIs that resolve a branch's head, one per host with a token. */
  hosts: GitHostApis;
  /** Where tasks clone from, per host (Gitea's only when HOOKFLOW_GITEA_URL is set). */
  webUrls: WebUrls;
}

/**
 * What people do to runs through the API: start, look, cancel, re-run, approve, read logs. Every change is a
 * command through RunCommands, with who asked; a refusal is thrown as the error for its reason.
 */
export class RunControl {
  constructor(private readonly deps: RunControlDeps) {}

  /** `startedBy`: the person's username and email, the run's author (whom self-approval refuses). */
  async start(
    pipelineName: string,
    request: ManualRun,
    actor: Actor,
    startedBy: string[] = [],
  ): Promise<RunView> {
    const stored = await this.deps.definitions.getPipeline(pipelineName);
    if (!stored) throw new NotFoundError(`no pipeline ${pipelineName}`);
    const pipeline = stored.value;
    const jobs = new Map((await this.deps.definitions.listJobs()).map((j) => [j.value.name, j.value]));
    const used = DefinitionCatalog.jobsOf(pipeline, jobs);
    checkParams(request.params ?? {}, Object.values(used));
    const { runs } = await this.deps.starter.start(
      [
        {
          id: this.deps.ids.runId(),
          pipeline,
          jobs: used,
          trigger: {
            ...(await manualTrigger(pipeline, request, this.deps.hosts, this.deps.webUrls)),
            ...(startedBy[0] !== undefined && { author: startedBy[0], pushedBy: startedBy }),
          },
          params: request.params ?? {},
        },
      ],
      actor,
    );
    return runView(runs[0] as Run);
  }

  async get(id: string): Promise<RunView> {
    const run = await this.deps.runs.getRun(id);
    if (!run) throw new NotFoundError(`no run ${id}`);
    return runView(run);
  }

  async list(query: {
    pipeline?: string;
    status?: RunStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<RunView>> {
    const page = await this.deps.runs.listRuns(query);
    return { items: page.items.map(runView), ...(page.cursor && { cursor: page.cursor }) };
  }

  async cancel(id: string, actor: Actor, by?: string): Promise<RunView> {
    return runView(
      await this.deps.commands.require(id, { type: "cancel.requested", ...(by && { by }) }, actor),
    );
  }

  /** Cancel one task of an active run: a failure its `ignoreFailed` absorbs. */
  async cancelTask(id: string, task: string, actor: Actor, by?: string): Promise<RunView> {
    return runView(
      await this.deps.commands.require(id, { type: "cancel.requested", task, ...(by && { by }) }, actor),
    );
  }

  /** All of a finished run again, its failed part, or one task (with `downstream`, what runs after it too). */
  async rerun(id: string, request: RerunRequest, actor: Actor): Promise<RunView> {
    const { failedOnly, task, downstream } = request;
    const command = {
      type: "rerun.requested" as const,
      failedOnly: failedOnly ?? false,
      ...(task !== undefined && { task, downstream: downstream ?? false }),
    };
    return runView(await this.deps.commands.require(id, command, actor));
  }

  /** `by` (and `email`) name the deciding principal, as the API proved them (people.ts: approverOf). */
  async decide(
    id: string,
    task: string,
    decision: { kind: "approve" | "deny"; by: string; email?: string; comment?: string },
    actor: Actor,
  ): Promise<RunView> {
    const { by, email, comment } = decision;
    const type = decision.kind === "approve" ? "approval.granted" : "approval.denied";
    return runView(
      await this.deps.commands.require(
        id,
        { type, task, by, ...(email && { email }), ...(comment && { comment }) },
        actor,
      ),
    );
  }

  /**
   * Trusts a fork's pull request run: attempts queued from now on get sensitive values, and its held tasks wait
   * for their approvers. Recorded on the run with who trusted it (the actor), and logged with the actor as every
   * command is. Allowed to whoever may approve: today the API's bearer token guards it; the role check of signed-in
   * principals belongs here, before the command.
   */
  async trust(id: string, actor: Actor): Promise<RunView> {
    return runView(
      await this.deps.commands.require(id, { type: "run.trusted", by: actorName(actor) }, actor),
    );
  }

  /**
   * A task attempt's log (the current attempt by default): the archive's copy once the attempt has ended and is
   * kept, else the live log from its runner. Each container's part follows a `==> container NAME <==` line when
   * there are several; `container` picks one. Line times only from the archive, when asked for. An earlier
   * attempt not yet archived is read live under its Job's name, as its history keeps it.
   */
  async logs(id: string, taskName: string, query: LogQuery = {}): Promise<string> {
    const run = await this.deps.runs.getRun(id);
    if (!run) throw new NotFoundError(`no run ${id}`);
    const task = run.stages.flatMap((s) => s.tasks).find((t) => t.name === taskName);
    if (!task) throw new NotFoundError(`no task ${taskName} in run ${id}`);
    if (task.attempt === 0) throw new ConflictError(`task ${taskName} has not run yet (${task.status})`);
    const attempt = query.attempt ?? task.attempt;
    if (attempt > task.attempt)
      throw new NotFoundError(`task ${taskName} has had ${task.attempt} attempt(s), not ${attempt}`);
    const key = { runId: id, task: task.name, attempt };
    const current = attempt === task.attempt && isActiveTask(task.status);
    const owed = run.outbox.some(
      (e) => e.type === "archiveLog" && e.task === task.name && e.attempt === attempt,
    );
    const archived = current ? undefined : await this.findArchived(key, owed);
    if (archived) return logTail(await this.readArchived(key, archived, query), LIMITS.logBytes);
    // Running, or ended and not yet copied: its pod (or process) still has it.
    const jobName =
      attempt === task.attempt
        ? (task.jobName ?? jobNameFor(id, task.name, attempt))
        : ((task.history ?? []).findLast((h) => h.attempt === attempt)?.jobName ??
          jobNameFor(id, task.name, attempt));
    const runner = await this.deps.runner();
    const text = await runner.logs(
      { runId: id, task: task.name, attempt, jobName },
      {
        ...(query.tail !== undefined && { tail: query.tail }),
        ...(query.container !== undefined && { container: query.container }),
      },
    );
    const tokens = this.deps.tokens
      ? [this.deps.tokens.tokenFor(key), this.deps.tokens.previousReleaseTokenFor(key)]
      : [];
    // Masked before it is cut, so that a cut never splits a secret into a part the mask misses.
    return logTail(maskText(text, [...secretValues(run), ...tokens]), LIMITS.logBytes);
  }

  /**
   * What the archive keeps of an attempt. While its copy is still owed, its Job is kept for it: an archive that
   * cannot be reached then (an outage) is no reason not to answer, from the pod.
   */
  private async findArchived(key: AttemptKey, owed: boolean): Promise<ArchivedAttempt | undefined> {
    try {
      return await (await this.deps.archive()).find(key);
    } catch (error) {
      if (owed && error instanceof RetryableError) return undefined;
      throw error;
    }
  }

  /** Stored masked: read as kept. Only the newest parts of each container that the answer can hold are read. */
  private async readArchived(key: AttemptKey, archived: ArchivedAttempt, query: LogQuery): Promise<string> {
    if (archived.gone !== undefined) return archived.gone;
    const names = archived.containers.map((c) => c.name);
    if (query.container !== undefined && !names.includes(query.container))
      throw new NotFoundError(
        `attempt ${key.attempt} of ${key.task} has no log of container ${query.container}; it has: ${names.join(", ") || "none"}`,
      );
    const chosen = archived.containers.filter(
      (c) => query.container === undefined || c.name === query.container,
    );
    const archive = await this.deps.archive();
    const parts: string[] = [];
    for (const container of chosen) {
      const read = await archive.read(key, container.name, {
        ...(query.tail !== undefined && { tail: query.tail }),
        minBytes: LIMITS.logBytes,
      });
      let text = query.timestamps || !container.timestamps ? read.text : withoutTimes(read.text);
      if (query.tail !== undefined) text = lastLines(text, query.tail);
      parts.push(
        chosen.length === 1
          ? text
          : `==> ${container.init ? "init container" : "container"} ${container.name} <==\n${text}${text === "" || text.endsWith("\n") ? "" : "\n"}`,
      );
    }
    return parts.join("");
  }
}

export interface LogQuery {
  attempt?: number;
  container?: string;
  tail?: number;
  /** Each line's time first (RFC 3339), where the archive has it. */
  timestamps?: boolean;
}

/** The name a decision made by `actor` is recorded under. */
function actorName(actor: Actor): string {
  switch (actor.kind) {
    case "person":
      return actor.name;
    case "token":
      return `token:${actor.id}`;
    default:
      return actor.kind;
  }
}

function checkParams(
  params: Record<string, string>,
  jobs: Array<{ params: Array<{ name: string; enum?: string[] }> }>,
): void {
  const issues = Object.entries(params).flatMap(([name, value]) => {
    if (!VARIABLE_NAME.test(name))
      return [{ path: `params.${name}`, message: "a param name is letters, digits and '_'" }];
    const declared = jobs.flatMap((j) => j.params).find((p) => p.name === name && p.enum);
    const problem = declared && enumProblem(declared, value);
    return problem ? [{ path: `params.${name}`, message: problem }] : [];
  });
  const bytes = byteLength(JSON.stringify(params));
  if (bytes > LIMITS.paramsPerRunBytes)
    issues.push({ path: "params", message: `${bytes} bytes; at most ${LIMITS.paramsPerRunBytes}` });
  if (issues.length > 0) throw new ValidationError("invalid params", issues);
}

export interface WebUrls {
  github: string;
  gitlab: string;
  gitea?: string;
}

const TOKEN_SETTINGS = {
  github: "HOOKFLOW_GITHUB_TOKEN",
  gitlab: "HOOKFLOW_GITLAB_API_TOKEN",
  gitea: "HOOKFLOW_GITEA_TOKEN (with HOOKFLOW_GITEA_URL)",
} as const;

/** Where a task clones a repository from: the host's web address; empty only for Gitea without HOOKFLOW_GITEA_URL. */
export function cloneUrlOf(provider: Provider, repository: string, urls: WebUrls): string {
  const host = urls[provider];
  return repository && host ? `${host.replace(/\/+$/, "")}/${repository}.git` : "";
}

/**
 * A manual run's trigger: the pipeline's first trigger names the repository; the ref defaults to main. A branch
 * run without `commit` builds the branch's head, resolved through the host's API, so GIT_COMMIT names what was
 * built (and a rerun builds it again). Without the host's token that is refused, naming the setting: a run of
 * "whatever the branch holds when the task clones it" could not be reported on, nor reproduced. A tag, or a
 * pipeline with no repository, runs with its ref alone.
 */
async function manualTrigger(
  pipeline: Pipeline,
  request: ManualRun,
  hosts: GitHostApis,
  urls: WebUrls,
): Promise<TriggerContext> {
  const first = pipeline.triggers[0];
  const provider = first?.provider ?? "github";
  const repository = first?.repository ?? "";
  const ref = !request.ref
    ? "refs/heads/main"
    : request.ref.startsWith("refs/")
      ? request.ref
      : `refs/heads/${request.ref}`;
  const tag = ref.startsWith("refs/tags/") ? ref.slice("refs/tags/".length) : undefined;
  const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : undefined;
  const head =
    request.commit === undefined && repository && branch !== undefined
      ? await branchHead(hosts, provider, repository, branch)
      : undefined;
  return {
    provider,
    event: "manual",
    repository,
    cloneUrl: cloneUrlOf(provider, repository, urls),
    ref,
    ...(branch !== undefined && { branch }),
    ...(tag !== undefined && { tag }),
    commit: request.commit ?? head?.commit ?? "",
    message: head ? head.message : "manual run",
    author: head?.author ?? "",
  };
}

/** A branch's head for a run, or a 400 that says what to do instead. */
export async function branchHead(
  hosts: GitHostApis,
  provider: Provider,
  repository: string,
  branch: string,
): Promise<BranchHead> {
  const api = hosts[provider];
  if (!api)
    throw new ValidationError("the branch's head cannot be resolved", [
      {
        path: "commit",
        message: `no commit given, and ${TOKEN_SETTINGS[provider]} is not set to ask ${provider} for the head of ${branch}: give \`commit\` or set it`,
      },
    ]);
  const head = await api.branchHead(repository, branch);
  if (!head)
    throw new ValidationError("no such branch", [
      { path: "ref", message: `${provider} has no branch ${branch} in ${repository}` },
    ]);
  return head;
}
