import { type Provider, Schedule } from "../../model/index.js";
import type { RecordedSchedule, RepositoryScheduleStore } from "../../ports.js";
import { type Item, KEYS, S, schemaAttribute, schemaOf, str } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

const COLLECTION = "RSCHEDULES";

/** Parsed asynchronously: a schedule's cron is checked by croner, imported on first use (schedule.ts). */
async function fromItem(item: Item): Promise<RecordedSchedule> {
  schemaOf(item);
  return {
    provider: str(item, "provider") as Provider,
    repository: str(item, "repository"),
    branch: str(item, "branch"),
    pipeline: str(item, "pipeline"),
    key: str(item, "key"),
    schedule: await Schedule.parseAsync(JSON.parse(str(item, "schedule"))),
    recordedAt: str(item, "recordedAt"),
  };
}

const keyOf = (r: Pick<RecordedSchedule, "provider" | "repository" | "branch" | "pipeline" | "key">) =>
  KEYS.repositorySchedule(r.provider, r.repository, r.branch, r.pipeline, r.key);

/**
 * One item per (repository, branch, pipeline, schedule), in a partition per (repository, branch), so a push
 * reads and replaces its branch's records with one Query and a write per change; listed for the reconciler's
 * tick through byCollection (RSCHEDULES / <provider>/<repository>#<branch>#<pipeline>#<key>).
 */
export class RepositoryScheduleRepository implements RepositoryScheduleStore {
  constructor(private readonly io: TableIO) {}

  async replace(
    provider: Provider,
    repository: string,
    branch: string,
    schedules: Array<Pick<RecordedSchedule, "pipeline" | "key" | "schedule">>,
    now: string,
  ): Promise<void> {
    const { items } = await this.io.query(
      {
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": S(`RSCHEDULE#${provider}#${repository}#${branch}`) },
        ConsistentRead: true,
      },
      Number.POSITIVE_INFINITY,
    );
    const stored = await Promise.all(items.map(fromItem));
    const wanted = new Set(schedules.map((s) => `${s.pipeline}#${s.key}`));
    for (const record of stored)
      if (!wanted.has(`${record.pipeline}#${record.key}`)) await this.remove(record);
    const had = new Set(stored.map((r) => `${r.pipeline}#${r.key}`));
    for (const { pipeline, key, schedule } of schedules) {
      if (had.has(`${pipeline}#${key}`)) continue;
      const record = { provider, repository, branch, pipeline, key };
      await this.io.put({
        ...keyOf(record),
        ...schemaAttribute(),
        ...Object.fromEntries(Object.entries(record).map(([name, value]) => [name, S(value)])),
        schedule: S(JSON.stringify(schedule)),
        recordedAt: S(now),
        [INDEX.byCollection.pk]: S(COLLECTION),
        [INDEX.byCollection.sk]: S(`${provider}/${repository}#${branch}#${pipeline}#${key}`),
      });
    }
  }

  async list(): Promise<RecordedSchedule[]> {
    const items = await this.io.collection(COLLECTION);
    return Promise.all(items.map(fromItem));
  }

  async remove(record: RecordedSchedule): Promise<void> {
    await this.io.delete(keyOf(record));
  }
}
