import type { Provider } from "../../model/index.js";
import type { EnabledRepository, RepositoryStore } from "../../ports.js";
import { type Item, KEYS, S, schemaAttribute, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

const COLLECTION = "REPOSITORIES";

function fromItem(item: Item): EnabledRepository {
  schemaOf(item);
  return {
    provider: str(item, "provider") as Provider,
    repository: str(item, "repository"),
    enabledAt: str(item, "enabledAt"),
  };
}

/** The repositories an admin enabled for pipelines in their files: one item each, listed through byCollection. */
export class RepositoryRepository implements RepositoryStore {
  constructor(private readonly io: TableIO) {}

  async enable(provider: Provider, repository: string, now: string): Promise<EnabledRepository> {
    const existing = await this.get(provider, repository);
    if (existing) return existing;
    await this.io.put({
      ...KEYS.repository(provider, repository),
      ...schemaAttribute(),
      provider: S(provider),
      repository: S(repository),
      enabledAt: S(now),
      [INDEX.byCollection.pk]: S(COLLECTION),
      [INDEX.byCollection.sk]: S(`${provider}/${repository}`),
    });
    return { provider, repository, enabledAt: now };
  }

  async get(provider: Provider, repository: string): Promise<EnabledRepository | undefined> {
    const item = await this.io.get(KEYS.repository(provider, repository));
    return item && fromItem(item);
  }

  async list(): Promise<EnabledRepository[]> {
    const items = await this.io.collection(COLLECTION);
    return items.map(fromItem);
  }

  async disable(provider: Provider, repository: string): Promise<boolean> {
    const deleted = await this.io.delete(KEYS.repository(provider, repository));
    return deleted.ok && deleted.existed;
  }
}
