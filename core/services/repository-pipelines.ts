import { checkPipelineJobs, type Issue, type JobTemplate, Pipeline, type Provider } from "../model/index.js";
import type { GitHostApis } from "../ports.js";

/** A pipeline read from a repository's file: named `<repository>/<name>`, with where it came from. */
export interface RepositoryPipeline {
  pipeline: Pipeline;
  file: string;
}

/** What is wrong in a repository's file, and where. */
export interface DefinitionProblem extends Issue {
  file: string;
}

export interface RepositoryDefinitions {
  pipelines: RepositoryPipeline[];
  problems: DefinitionProblem[];
}

export const ROOT_FILE = ".hookflow.yaml";
export const DEFINITION_DIRECTORY = ".hookflow";
/** At most this many files of `.hookflow/` are read; more is a problem, said, not a silent cut. */
export const MAX_DEFINITION_FILES = 20;
const CACHED_COMMITS = 100;

/**
 * The pipelines an enabled repository carries at a commit, read through the host's API with the host token and
 * validated exactly as the API validates a pipeline (schema, then the job templates it uses; job templates stay
 * in the API). A trigger may omit `repository`, meaning this one; a trigger naming another repository is a
 * problem (a repository defines its own pipelines only). Cached by commit in this process: a commit's files
 * never change.
 */
export class RepositoryPipelines {
  private readonly cache = new Map<string, RepositoryDefinitions>();

  constructor(private readonly deps: { hosts: GitHostApis }) {}

  /**
   * The definitions of an enabled repository at `commit` (the caller knows it is enabled: the catalogue reads
   * the enabled list with the definitions, so a delivery for any other repository costs no read and no request).
   */
  async at(
    provider: Provider,
    repository: string,
    commit: string,
    jobs: ReadonlyMap<string, JobTemplate>,
    /** False when `commit` is a branch name (a pull request's base): a branch moves, so it is not cached. */
    cacheable = true,
  ): Promise<RepositoryDefinitions> {
    const api = this.deps.hosts[provider];
    if (!api)
      return {
        pipelines: [],
        problems: [
          {
            file: ROOT_FILE,
            path: "",
            message: `the repository is enabled, but ${provider}'s API token is not set, so its files cannot be read`,
          },
        ],
      };
    const key = `${provider}\n${repository}\n${commit}`;
    const cached = cacheable ? this.cache.get(key) : undefined;
    if (cached) return cached;

    const files: Array<{ file: string; text: string }> = [];
    const problems: DefinitionProblem[] = [];
    const root = await api.readFile(repository, commit, ROOT_FILE);
    if (root !== undefined) files.push({ file: ROOT_FILE, text: root });
    const entries = (await api.listDirectory(repository, commit, DEFINITION_DIRECTORY)) ?? [];
    const yaml = entries.filter((e) => e.kind === "file" && /\.ya?ml$/.test(e.name));
    if (yaml.length > MAX_DEFINITION_FILES)
      problems.push({
        file: DEFINITION_DIRECTORY,
        path: "",
        message: `${yaml.length} files; at most ${MAX_DEFINITION_FILES} are read`,
      });
    for (const entry of yaml.slice(0, MAX_DEFINITION_FILES)) {
      const text = await api.readFile(repository, commit, entry.path);
      if (text !== undefined) files.push({ file: entry.path, text });
    }

    const pipelines: RepositoryPipeline[] = [];
    // The YAML parser is loaded here, on first use: only enabled repositories' deliveries read files.
    const parsing = files.length > 0 ? await import("../model/parse.js") : undefined;
    for (const { file, text } of files) {
      const read = await readPipeline(parsing as Parsing, provider, repository, text, jobs);
      if (!read.ok) {
        problems.push(...read.issues.map((issue) => ({ ...issue, file })));
        continue;
      }
      const name = `${repository}/${read.value.name}`;
      const twin = pipelines.find((p) => p.pipeline.name === name);
      if (twin) {
        problems.push({
          file,
          path: "name",
          message: `pipeline ${read.value.name} is also defined in ${twin.file}`,
        });
        continue;
      }
      pipelines.push({ pipeline: { ...read.value, name }, file });
    }
    const definitions = { pipelines, problems };
    if (this.cache.size >= CACHED_COMMITS) this.cache.delete(this.cache.keys().next().value as string);
    if (cacheable) this.cache.set(key, definitions);
    return definitions;
  }
}

type Read = { ok: true; value: Pipeline } | { ok: false; issues: Issue[] };
type Parsing = typeof import("../model/parse.js");

async function readPipeline(
  { parseText, validate }: Parsing,
  provider: Provider,
  repository: string,
  text: string,
  jobs: ReadonlyMap<string, JobTemplate>,
): Promise<Read> {
  const parsed = parseText(text);
  if (!parsed.ok) return parsed;
  const value = parsed.value as { triggers?: unknown } | null;
  const foreign: Issue[] = [];
  if (value && typeof value === "object" && Array.isArray(value.triggers))
    for (const [i, trigger] of value.triggers.entries()) {
      if (!trigger || typeof trigger !== "object") continue;
      const t = trigger as { provider?: unknown; repository?: unknown };
      t.repository ??= repository;
      t.provider ??= provider;
      if (t.repository !== repository || t.provider !== provider)
        foreign.push({
          path: `triggers[${i}]`,
          message: `a repository's file defines pipelines of ${provider} ${repository} only`,
          ...parsed.locate(["triggers", i]),
        });
    }
  const validated = await validate(Pipeline, value, parsed.locate);
  if (!validated.ok) return { ok: false, issues: [...foreign, ...validated.issues] };
  if (foreign.length > 0) return { ok: false, issues: foreign };
  const { issues } = checkPipelineJobs(validated.value, jobs);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: validated.value };
}

/** A problem as a commit status's description says it: `file:line: path: message`. */
export function describeProblem(problem: DefinitionProblem): string {
  const where = `${problem.file}${problem.line ? `:${problem.line}` : ""}`;
  return `${where}: ${problem.path ? `${problem.path}: ` : ""}${problem.message}`;
}
