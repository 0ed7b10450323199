import { MASK, sensitiveNames } from "../engine/index.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import {
  checkPipelineJobs,
  formatPath,
  type Issue,
  type JobTemplate,
  type Notifier,
  notifyUrlProblem,
  type Pipeline,
  type TargetRules,
  tasksOf,
} from "../model/index.js";
import type { Clock, DefinitionStore } from "../ports.js";
import type { DefinitionCatalog } from "./catalog.js";

export interface Saved<T> {
  value: T;
  created: boolean;
  warnings: Issue[];
  version: number;
  /** The version it replaced (0: one saved before versions were kept). */
  previous?: number;
}

/** Pipelines and job templates as the API manages them: validated in full, never shown with sensitive values. */
/** The definitions' parser (YAML and the schemas), loaded on the first write: reads never need it. */
const parsing = () => import("../model/parse.js");

export class DefinitionService {
  constructor(
    private readonly deps: {
      store: DefinitionStore;
      clock: Clock;
      catalog?: DefinitionCatalog;
      /** Where notifications may go; loopback only where the deployment allows it (default: nowhere). */
      targets?: TargetRules;
    },
  ) {}

  async putPipeline(name: string, text: string): Promise<Saved<Pipeline>> {
    const parsed = await (await parsing()).parsePipeline(text);
    if (!parsed.ok) throw new ValidationError(`pipeline ${name} is invalid`, parsed.issues);
    if (parsed.value.name !== name)
      throw new ValidationError("name mismatch", [
        { path: "name", message: `"${parsed.value.name}" does not match the URL's "${name}"` },
      ]);
    const jobs = new Map((await this.deps.store.listJobs()).map((j) => [j.value.name, j.value]));
    const checked = checkPipelineJobs(parsed.value, jobs);
    const issues = [...checked.issues, ...this.targetIssues(parsed.value)];
    const { warnings } = checked;
    if (issues.length > 0) throw new ValidationError(`pipeline ${name} is invalid`, issues);
    const existed = await this.deps.store.getPipeline(name);
    const pipeline = existed ? keepMaskedValues(parsed.value, existed.value) : parsed.value;
    const masked = stillMasked(pipeline);
    if (masked.length > 0) throw new ValidationError(`pipeline ${name} is invalid`, masked);
    const saved = await this.deps.store.putPipeline(pipeline, this.deps.clock.now());
    this.deps.catalog?.invalidate();
    return { value: await this.maskPipeline(pipeline, jobs), created: !existed, warnings, ...saved };
  }

  /** The current definition, or an earlier `version` (kept after changes and deletes, to apply again). */
  async getPipeline(name: string, version?: number): Promise<Pipeline> {
    const stored =
      version === undefined
        ? await this.deps.store.getPipeline(name)
        : await this.deps.store.getPipelineVersion(name, version);
    if (!stored)
      throw new NotFoundError(`no pipeline ${name}${version === undefined ? "" : ` version ${version}`}`);
    return this.maskPipeline(stored.value);
  }

  async listPipelines(): Promise<Pipeline[]> {
    const jobs = await this.jobMap();
    return Promise.all((await this.deps.store.listPipelines()).map((p) => this.maskPipeline(p.value, jobs)));
  }

  /** Deletes the current definition; its versions stay readable. Returns the version deleted. */
  async deletePipeline(name: string): Promise<{ previous: number }> {
    const existing = await this.deps.store.getPipeline(name);
    if (!existing || !(await this.deps.store.deletePipeline(name)))
      throw new NotFoundError(`no pipeline ${name}`);
    this.deps.catalog?.invalidate();
    return { previous: existing.version };
  }

  async putJob(name: string, text: string): Promise<Saved<JobTemplate>> {
    const parsed = await (await parsing()).parseJobTemplate(text);
    if (!parsed.ok) throw new ValidationError(`job template ${name} is invalid`, parsed.issues);
    if (parsed.value.name !== name)
      throw new ValidationError("name mismatch", [
        { path: "name", message: `"${parsed.value.name}" does not match the URL's "${name}"` },
      ]);
    const existed = await this.deps.store.getJob(name);
    const job = existed ? keepMaskedDefaults(parsed.value, existed.value) : parsed.value;
    const saved = await this.deps.store.putJob(job, this.deps.clock.now());
    this.deps.catalog?.invalidate();
    return { value: maskJob(job), created: !existed, warnings: parsed.warnings, ...saved };
  }

  async getJob(name: string, version?: number): Promise<JobTemplate> {
    const stored =
      version === undefined
        ? await this.deps.store.getJob(name)
        : await this.deps.store.getJobVersion(name, version);
    if (!stored)
      throw new NotFoundError(`no job template ${name}${version === undefined ? "" : ` version ${version}`}`);
    return maskJob(stored.value);
  }

  async listJobs(): Promise<JobTemplate[]> {
    return (await this.deps.store.listJobs()).map((j) => maskJob(j.value));
  }

  /** Refused while a pipeline uses the template: its runs could not start. */
  async deleteJob(name: string): Promise<{ previous: number }> {
    const users = (await this.deps.store.listPipelines())
      .filter((p) => tasksOf(p.value).some(({ task }) => task.job === name))
      .map((p) => p.value.name);
    if (users.length > 0)
      throw new ConflictError(`job template ${name} is used by ${users.join(", ")}`, { pipelines: users });
    const existing = await this.deps.store.getJob(name);
    if (!existing || !(await this.deps.store.deleteJob(name)))
      throw new NotFoundError(`no job template ${name}`);
    this.deps.catalog?.invalidate();
    return { previous: existing.version };
  }

  /** The schema admits loopback URLs; this deployment may not (core/model/addresses.ts). */
  private targetIssues(pipeline: Pipeline): Issue[] {
    const rules = this.deps.targets ?? { allowLoopback: false };
    return pipeline.notify.flatMap((n, i) => {
      const problem = notifyUrlProblem(n.url, rules);
      return problem ? [{ path: `notify[${i}].url`, message: problem }] : [];
    });
  }

  private async jobMap(): Promise<Map<string, JobTemplate>> {
    return new Map((await this.deps.store.listJobs()).map((j) => [j.value.name, j.value]));
  }

  /** Params a job template declares sensitive are shown masked wherever a pipeline sets them. */
  private async maskPipeline(pipeline: Pipeline, jobs?: Map<string, JobTemplate>): Promise<Pipeline> {
    const known = jobs ?? (await this.jobMap());
    const sensitive = sensitiveNames({ jobs: Object.fromEntries(known) });
    const mask = (params: Record<string, string>) =>
      Object.fromEntries(Object.entries(params).map(([k, v]) => [k, sensitive.has(k) ? MASK : v]));
    return {
      ...pipeline,
      params: mask(pipeline.params),
      notify: pipeline.notify.map((n) => ({ ...n, url: shownUrl(n), ...(n.secret && { secret: MASK }) })),
      stages: pipeline.stages.map((s) => ({
        ...s,
        tasks: s.tasks.map((t) => ({ ...t, ...(t.params && { params: mask(t.params) }) })),
      })),
      finally: (pipeline.finally ?? []).map((t) => ({ ...t, ...(t.params && { params: mask(t.params) }) })),
    };
  }
}

function maskJob(job: JobTemplate): JobTemplate {
  return {
    ...job,
    params: job.params.map((p) => (p.sensitive && p.default !== undefined ? { ...p, default: MASK } : p)),
  };
}

/**
 * A definition read from the API shows sensitive values as the mask; written back as it was read, the stored
 * values stay (a real secret is never replaced by "******").
 */
function keepMaskedValues(next: Pipeline, stored: Pipeline): Pipeline {
  const keep = (params: Record<string, string>, old: Record<string, string> | undefined) =>
    Object.fromEntries(
      Object.entries(params).map(([k, v]) => [k, v === MASK && old?.[k] !== undefined ? old[k] : v]),
    );
  const oldTasks = new Map(tasksOf(stored).map(({ task }) => [task.name, task]));
  const keepTask = (t: Pipeline["stages"][number]["tasks"][number]) =>
    t.params ? { ...t, params: keep(t.params, oldTasks.get(t.name)?.params) } : t;
  return {
    ...next,
    params: keep(next.params, stored.params),
    notify: keepMaskedNotifiers(next.notify, stored.notify),
    stages: next.stages.map((s) => ({ ...s, tasks: s.tasks.map(keepTask) })),
    finally: (next.finally ?? []).map(keepTask),
  };
}

/**
 * Each target written back takes the stored one it was shown as: the same kind and URL (or the mask of it), in
 * order, so two targets behind one origin keep their own URLs and secrets.
 */
function keepMaskedNotifiers(next: Notifier[], stored: Notifier[]): Notifier[] {
  const unclaimed = [...stored];
  const claim = (matches: (old: Notifier) => boolean) => {
    const at = unclaimed.findIndex(matches);
    return at < 0 ? undefined : unclaimed.splice(at, 1)[0];
  };
  return next.map((n) => {
    const old =
      claim((o) => o.kind === n.kind && o.url === n.url) ??
      claim((o) => o.kind === n.kind && shownUrl(o) === n.url);
    if (!old) return n;
    return { ...n, url: old.url, ...(n.secret === MASK && old.secret && { secret: old.secret }) };
  });
}

/**
 * A notify URL is shown as its origin and the mask: a robot's URL is its credential (an access token in the
 * path or query), and a webhook's path or query often carries one too.
 */
function shownUrl(notifier: Notifier): string {
  return `${new URL(notifier.url).origin}/${MASK}`;
}

/** A mask written back where nothing stored is behind it would become the value: refused instead. */
function stillMasked(pipeline: Pipeline): Issue[] {
  const refused = (path: string, what: string) => ({
    path,
    message: `is masked and nothing stored is behind it: give the ${what}`,
  });
  const params = (at: string, values: Record<string, string> = {}) =>
    Object.entries(values).flatMap(([k, v]) => (v === MASK ? [refused(`${at}.${k}`, "value")] : []));
  return [
    ...params("params", pipeline.params),
    ...pipeline.notify.flatMap((n, i) => [
      ...(n.url.endsWith(`/${MASK}`) ? [refused(`notify[${i}].url`, "full URL")] : []),
      ...(n.secret === MASK ? [refused(`notify[${i}].secret`, "secret")] : []),
    ]),
    ...tasksOf(pipeline).flatMap(({ task, path }) => params(`${formatPath(path)}.params`, task.params)),
  ];
}

function keepMaskedDefaults(next: JobTemplate, stored: JobTemplate): JobTemplate {
  const old = new Map(stored.params.map((p) => [p.name, p.default]));
  return {
    ...next,
    params: next.params.map((p) =>
      p.default === MASK && old.get(p.name) !== undefined ? { ...p, default: old.get(p.name) } : p,
    ),
  };
}
