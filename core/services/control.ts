import { createRun, type Ignored, maskText, type RunView, runView, secretValues } from "../engine/index.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import {
  byteLength,
  LIMITS,
  logTail,
  type Pipeline,
  type Provider,
  type RunEvent,
  type RunStatus,
  type TriggerContext,
  VARIABLE_NAME,
} from "../model/index.js";
import type { Clock, DefinitionStore, IdSource, Page, RunStore, TaskRunner, WorkQueue } from "../ports.js";
import { DefinitionCatalog } from "./catalog.js";
import type { RunRecorder } from "./runs.js";
import { owedMessage } from "./scheduler.js";
import type { TaskTokens } from "./tokens.js";

export interface ManualRun {
  ref?: string;
  commit?: string;
  params?: Record<string, string>;
}

export interface RunControlDeps {
  runs: RunStore;
  definitions: DefinitionStore;
  recorder: RunRecorder;
  queue: WorkQueue;
  ids: IdSource;
  clock: Clock;
  commitStatus: { enabledFor(provider: Provider): boolean };
  /** Loaded on first use: only the logs route needs a runner. */
  runner: () => Promise<TaskRunner>;
  /** To mask a task's own callback token in its logs, when known. */
  tokens?: TaskTokens;
  gitlabUrl: string;
}

/** What people do to runs through the API: start, look, cancel, re-run, approve, read logs. */
export class RunControl {
  constructor(private readonly deps: RunControlDeps) {}

  async start(pipelineName: string, request: ManualRun): Promise<RunView> {
    const stored = await this.deps.definitions.getPipeline(pipelineName);
    if (!stored) throw new NotFoundError(`no pipeline ${pipelineName}`);
    const pipeline = stored.value;
    const jobs = new Map((await this.deps.definitions.listJobs()).map((j) => [j.value.name, j.value]));
    const used = DefinitionCatalog.jobsOf(pipeline, jobs);
    checkParams(request.params ?? {}, Object.values(used));
    const trigger = manualTrigger(pipeline, request, this.deps.gitlabUrl);
    const run = createRun({
      id: this.deps.ids.runId(),
      pipeline,
      jobs: used,
      trigger,
      params: request.params ?? {},
      commitStatus:
        this.deps.commitStatus.enabledFor(trigger.provider) && /^[0-9a-f]{40}$/.test(trigger.commit),
      now: this.deps.clock.now(),
    });
    const saved = await this.deps.runs.saveRun(run);
    await this.deps.queue.send([
      { runId: run.id, event: { type: "run.created" }, dedupKey: `created:${run.id}` },
    ]);
    return runView(saved);
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

  cancel(id: string, by?: string): Promise<RunView> {
    return this.control(id, { type: "cancel.requested", ...(by && { by }) });
  }

  rerun(id: string, failedOnly: boolean): Promise<RunView> {
    return this.control(id, { type: "rerun.requested", failedOnly });
  }

  decide(
    id: string,
    task: string,
    decision: "approve" | "deny",
    by: string,
    comment?: string,
  ): Promise<RunView> {
    const type = decision === "approve" ? "approval.granted" : "approval.denied";
    return this.control(id, { type, task, by, ...(comment && { comment }) });
  }

  async logs(id: string, taskName: string, tail?: number): Promise<string> {
    const run = await this.deps.runs.getRun(id);
    if (!run) throw new NotFoundError(`no run ${id}`);
    const task = run.stages.flatMap((s) => s.tasks).find((t) => t.name === taskName);
    if (!task) throw new NotFoundError(`no task ${taskName} in run ${id}`);
    if (!task.jobName) throw new ConflictError(`task ${taskName} has not run yet (${task.status})`);
    const runner = await this.deps.runner();
    const text = await runner.logs(
      { runId: id, task: task.name, attempt: task.attempt, jobName: task.jobName },
      tail === undefined ? {} : { tail },
    );
    const token = this.deps.tokens?.tokenFor(task.jobName);
    // Masked before it is cut, so that a cut never splits a secret into a part the mask misses.
    return logTail(maskText(text, [...secretValues(run), ...(token ? [token] : [])]), LIMITS.logBytes);
  }

  private async control(id: string, event: RunEvent): Promise<RunView> {
    const recorded = await this.deps.recorder.record(id, [event]);
    const ignored = recorded.ignored[0];
    if (ignored) throw errorFor(ignored);
    if (recorded.effects.length > 0) await this.deps.queue.send([owedMessage(id, recorded.run.version)]);
    return runView(recorded.run);
  }
}

function errorFor(ignored: Ignored): Error {
  switch (ignored.reason) {
    case "UnknownTask":
      return new NotFoundError(ignored.message);
    case "NotAnApprover":
      return new ForbiddenError(ignored.message);
    default:
      return new ConflictError(ignored.message, { reason: ignored.reason });
  }
}

function checkParams(
  params: Record<string, string>,
  jobs: Array<{ params: Array<{ name: string; enum?: string[] }> }>,
): void {
  const issues = Object.entries(params).flatMap(([name, value]) => {
    if (!VARIABLE_NAME.test(name))
      return [{ path: `params.${name}`, message: "a param name is letters, digits and '_'" }];
    const allowed = jobs.flatMap((j) => j.params).find((p) => p.name === name && p.enum)?.enum;
    return allowed && !allowed.includes(value)
      ? [{ path: `params.${name}`, message: `must be one of ${allowed.join(", ")}` }]
      : [];
  });
  const bytes = byteLength(JSON.stringify(params));
  if (bytes > LIMITS.paramsPerRunBytes)
    issues.push({ path: "params", message: `${bytes} bytes; at most ${LIMITS.paramsPerRunBytes}` });
  if (issues.length > 0) throw new ValidationError("invalid params", issues);
}

/** A manual run's trigger: the pipeline's first trigger names the repository; the ref defaults to main. */
function manualTrigger(pipeline: Pipeline, request: ManualRun, gitlabUrl: string): TriggerContext {
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
  const host = provider === "gitlab" ? gitlabUrl : provider === "github" ? "https://github.com" : "";
  return {
    provider,
    event: "manual",
    repository,
    cloneUrl: repository && host ? `${host}/${repository}.git` : "",
    ref,
    ...(branch !== undefined && { branch }),
    ...(tag !== undefined && { tag }),
    commit: request.commit ?? "",
    message: "manual run",
    author: "",
  };
}
