import { NotFoundError, ValidationError } from "../errors.js";
import type { JobTemplate } from "../model/index.js";
import { Provider, repositoryPathProblem } from "../model/index.js";
import type { Clock, EnabledRepository, GitHostApis, RepositoryStore } from "../ports.js";
import type { DefinitionCatalog } from "./catalog.js";
import { branchHead } from "./control.js";
import type { RepositoryPipelines } from "./repository-pipelines.js";

/**
 * Which repositories carry their pipelines in their files: an admin enables each (none by default). For every
 * other repository a delivery works as before and no host API is called to read its files.
 */
export class RepositoryService {
  constructor(
    private readonly deps: {
      store: RepositoryStore;
      clock: Clock;
      catalog?: Pick<DefinitionCatalog, "invalidate">;
      /** To list an enabled repository's pipelines at a branch's head. */
      files?: {
        pipelines: RepositoryPipelines;
        hosts: GitHostApis;
        jobs: () => Promise<Map<string, JobTemplate>>;
      };
    },
  ) {}

  /** An enabled repository's pipelines at the head of `branch`, each with the file it came from, and its problems. */
  async pipelines(provider: string, path: string, branch: string) {
    const enabled = await this.get(provider, path);
    const files = this.deps.files;
    if (!files) throw new NotFoundError("reading repositories' files is not configured");
    const head = await branchHead(files.hosts, enabled.provider, enabled.repository, branch);
    const found = await files.pipelines.at(
      enabled.provider,
      enabled.repository,
      head.commit,
      await files.jobs(),
    );
    return {
      commit: head.commit,
      items: found.pipelines.map((p) => ({ name: p.pipeline.name, file: p.file, pipeline: p.pipeline })),
      problems: found.problems,
    };
  }

  async enable(provider: string, path: string): Promise<{ repository: EnabledRepository; created: boolean }> {
    const checked = check(provider, path);
    const now = this.deps.clock.now();
    const repository = await this.deps.store.enable(checked.provider, checked.path, now);
    this.deps.catalog?.invalidate();
    return { repository, created: repository.enabledAt === now };
  }

  async get(provider: string, path: string): Promise<EnabledRepository> {
    const checked = check(provider, path);
    const found = await this.deps.store.get(checked.provider, checked.path);
    if (!found) throw new NotFoundError(`${checked.provider} repository ${checked.path} is not enabled`);
    return found;
  }

  list(): Promise<EnabledRepository[]> {
    return this.deps.store.list();
  }

  async disable(provider: string, path: string): Promise<void> {
    const checked = check(provider, path);
    if (!(await this.deps.store.disable(checked.provider, checked.path)))
      throw new NotFoundError(`${checked.provider} repository ${checked.path} is not enabled`);
    this.deps.catalog?.invalidate();
  }
}

function check(provider: string, path: string): { provider: Provider; path: string } {
  const known = Provider.safeParse(provider);
  if (!known.success)
    throw new ValidationError("invalid repository", [
      { path: "provider", message: "github, gitlab or gitea" },
    ]);
  const problem = repositoryPathProblem(known.data, path);
  if (problem) throw new ValidationError("invalid repository", [{ path: "path", message: problem }]);
  return { provider: known.data, path };
}
