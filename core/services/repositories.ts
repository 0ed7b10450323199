import { NotFoundError, ValidationError } from "../errors.js";
import { Provider, repositoryPathProblem } from "../model/index.js";
import type { Clock, EnabledRepository, RepositoryStore } from "../ports.js";
import type { DefinitionCatalog } from "./catalog.js";

/**
 * Which repositories carry their pipelines in their files: an admin enables each (none by default). For every
 * other repository a delivery works as before and no host API is called.
 */
export class RepositoryService {
  constructor(
    private readonly deps: {
      store: RepositoryStore;
      clock: Clock;
      catalog?: Pick<DefinitionCatalog, "invalidate">;
    },
  ) {}

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
