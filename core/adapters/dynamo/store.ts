import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import * as z from "zod";
import { ValidationError, VersionConflictError } from "../../errors.js";
import {
  isTerminalRun,
  type JobTemplate,
  type Pipeline,
  type Provider,
  type Run,
} from "../../model/index.js";
import type {
  ActiveRun,
  Clock,
  DefinitionStore,
  DeliveryLedger,
  DeliveryRecord,
  DeliveryStore,
  Page,
  RateLimiter,
  RunQuery,
  RunStore,
  StoredDefinition,
} from "../../ports.js";
import { systemClock } from "../system.js";
import { INDEX, TTL_ATTRIBUTE } from "./table.js";

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  table: string;
  /** How long delivery records are kept: a git host's redelivery within this time is recognised. */
  deliveryTtlSeconds?: number;
  /** How long sent records are kept. */
  ledgerTtlSeconds?: number;
  clock?: Clock;
}

type Item = Record<string, AttributeValue>;
type Query = Omit<QueryCommandInput, "TableName">;
const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const str = (item: Item, name: string) => item[name]?.S ?? "";

const runKey = (id: string): Item => ({ pk: S(`RUN#${id}`), sk: S("RUN") });
const definitionKey = (kind: "PIPELINE" | "JOB", name: string): Item => ({
  pk: S(`${kind}#${name}`),
  sk: S(kind),
});
const deliveryKey = (provider: Provider, id: string): Item => ({
  pk: S(`DELIVERY#${provider}#${id}`),
  sk: S("DELIVERY"),
});
/** A delivery record's attribute per run: `run_<id>` = pipeline. */
const RUN_ATTRIBUTE = "run_";
const sentKey = (key: string): Item => ({ pk: S(`SENT#${key}`), sk: S("SENT") });
const rateKey = (key: string, window: number): Item => ({ pk: S(`RATE#${key}`), sk: S(`W#${window}`) });

/** The stored form of a run: the document, plus the attributes its indexes and conditions need. */
export function runItem(run: Run): Item {
  const { version, ...doc } = run;
  const order = `${run.createdAt}#${run.id}`;
  return {
    ...runKey(run.id),
    doc: S(JSON.stringify(doc)),
    version: N(version),
    id: S(run.id),
    pipeline: S(run.pipeline),
    status: S(run.status),
    createdAt: S(run.createdAt),
    gsi1pk: S(`PIPELINE#${run.pipeline}`),
    gsi1sk: S(order),
    gsi2pk: S("RUNS"),
    gsi2sk: S(order),
    ...(!isTerminalRun(run.status) && { activePk: S("ACTIVE"), activeSk: S(order) }),
    ...(run.concurrencyGroup !== undefined && { concurrencyGroup: S(run.concurrencyGroup) }),
  };
}

function runFromItem(item: Item): Run {
  return { ...(JSON.parse(str(item, "doc")) as Omit<Run, "version">), version: Number(item.version?.N ?? 0) };
}

const Cursor = z.record(z.string(), z.object({ S: z.string() }));

/** Cursors are the query's last key, opaque to clients; a tampered one is a 400, never a 500. */
function encodeCursor(key: Item | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString("base64url") : undefined;
}

function decodeCursor(cursor: string | undefined): Item | undefined {
  if (cursor === undefined) return undefined;
  try {
    return Cursor.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new ValidationError("invalid cursor", [
      { path: "cursor", message: "not a cursor this API returned" },
    ]);
  }
}

export class DynamoStore implements RunStore, DeliveryStore, DefinitionStore, DeliveryLedger, RateLimiter {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly deliveryTtl: number;
  private readonly ledgerTtl: number;
  private readonly clock: Clock;

  constructor(options: DynamoStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.client = options.client;
    this.table = options.table;
    this.deliveryTtl = options.deliveryTtlSeconds ?? 7 * 24 * 3600;
    this.ledgerTtl = options.ledgerTtlSeconds ?? 30 * 24 * 3600;
  }

  // ------------------------------------------------------------ runs

  async getRun(id: string): Promise<Run | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: runKey(id), ConsistentRead: true }),
    );
    return Item ? runFromItem(Item) : undefined;
  }

  async saveRun(run: Run): Promise<Run> {
    const next = { ...run, version: run.version + 1 };
    const condition =
      run.version === 0
        ? { ConditionExpression: "attribute_not_exists(pk)" }
        : {
            ConditionExpression: "version = :expected",
            ExpressionAttributeValues: { ":expected": N(run.version) },
          };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: runItem(next),
          ...condition,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return next;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const current = error.Item ? runFromItem(error.Item) : undefined;
        throw new VersionConflictError(`run ${run.id} changed since version ${run.version}`, current);
      }
      throw error;
    }
  }

  async listRuns(query: RunQuery): Promise<Page<Run>> {
    const input: Query = query.pipeline
      ? {
          IndexName: INDEX.byPipeline,
          KeyConditionExpression: "gsi1pk = :pk",
          ExpressionAttributeValues: { ":pk": S(`PIPELINE#${query.pipeline}`) },
        }
      : {
          IndexName: INDEX.byTime,
          KeyConditionExpression: "gsi2pk = :pk",
          ExpressionAttributeValues: { ":pk": S("RUNS") },
        };
    if (query.status) {
      input.FilterExpression = "#status = :status";
      input.ExpressionAttributeNames = { "#status": "status" };
      input.ExpressionAttributeValues = { ...input.ExpressionAttributeValues, ":status": S(query.status) };
    }
    const { items, last } = await this.queryUpTo(
      { ...input, ScanIndexForward: false },
      query.limit,
      decodeCursor(query.cursor),
    );
    return { items: items.map(runFromItem), ...(last && { cursor: encodeCursor(last) }) };
  }

  async activeRuns(group?: string): Promise<ActiveRun[]> {
    const input: Query = {
      IndexName: INDEX.active,
      KeyConditionExpression: "activePk = :pk",
      ExpressionAttributeValues: { ":pk": S("ACTIVE") },
      ScanIndexForward: true,
    };
    if (group !== undefined) {
      input.FilterExpression = "concurrencyGroup = :group";
      input.ExpressionAttributeValues = { ...input.ExpressionAttributeValues, ":group": S(group) };
    }
    const { items } = await this.queryUpTo(input, Number.POSITIVE_INFINITY);
    return items.map((item) => ({
      id: str(item, "id"),
      pipeline: str(item, "pipeline"),
      status: str(item, "status") as ActiveRun["status"],
      createdAt: str(item, "createdAt"),
      ...(item.concurrencyGroup && { concurrencyGroup: str(item, "concurrencyGroup") }),
    }));
  }

  /** Queries until `limit` items passed the filter (a filter applies after DynamoDB's own page limit). */
  private async queryUpTo(
    input: Query,
    limit: number,
    start?: Item,
  ): Promise<{ items: Item[]; last?: Item }> {
    const items: Item[] = [];
    let exclusiveStartKey = start;
    do {
      const remaining = limit - items.length;
      const page = await this.client.send(
        new QueryCommand({
          ...input,
          TableName: this.table,
          ExclusiveStartKey: exclusiveStartKey,
          ...(Number.isFinite(remaining) && { Limit: remaining }),
        }),
      );
      items.push(...(page.Items ?? []));
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey && items.length < limit);
    return { items, ...(exclusiveStartKey && { last: exclusiveStartKey }) };
  }

  // ------------------------------------------------------------ webhook deliveries

  async createRuns(runs: Run[]): Promise<boolean[]> {
    return Promise.all(
      runs.map(async (run) => {
        try {
          await this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: runItem({ ...run, version: 1 }),
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          );
          return true;
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) return false;
          throw error;
        }
      }),
    );
  }

  async getDelivery(provider: Provider, id: string): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: deliveryKey(provider, id), ConsistentRead: true }),
    );
    // DynamoDB deletes expired items lazily (within days), so expiry is checked on read too.
    if (!Item || Number(Item[TTL_ATTRIBUTE]?.N) * 1000 < Date.parse(this.clock.now())) return undefined;
    const runs = Object.entries(Item)
      .filter(([name]) => name.startsWith(RUN_ATTRIBUTE))
      .map(([name, value]) => ({ id: name.slice(RUN_ATTRIBUTE.length), pipeline: value.S ?? "" }))
      .sort((x, y) => x.pipeline.localeCompare(y.pipeline));
    return { provider, id, runs, receivedAt: str(Item, "receivedAt") };
  }

  async noteDelivery(
    provider: Provider,
    id: string,
    run: { id: string; pipeline: string },
    receivedAt: string,
  ): Promise<void> {
    const expiresAt = Math.floor(Date.parse(receivedAt) / 1000) + this.deliveryTtl;
    // One attribute per run, so that notes from each run of a delivery (in any order, repeated) add up.
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: deliveryKey(provider, id),
        UpdateExpression:
          "SET #run = :pipeline, receivedAt = if_not_exists(receivedAt, :received), #ttl = if_not_exists(#ttl, :ttl)",
        ExpressionAttributeNames: { "#run": `${RUN_ATTRIBUTE}${run.id}`, "#ttl": TTL_ATTRIBUTE },
        ExpressionAttributeValues: {
          ":pipeline": S(run.pipeline),
          ":received": S(receivedAt),
          ":ttl": N(expiresAt),
        },
      }),
    );
  }

  // ------------------------------------------------------------ definitions

  putPipeline(pipeline: Pipeline, now: string): Promise<void> {
    return this.putDefinition("PIPELINE", "PIPELINES", pipeline.name, pipeline, now);
  }
  getPipeline(name: string): Promise<StoredDefinition<Pipeline> | undefined> {
    return this.getDefinition("PIPELINE", name);
  }
  listPipelines(): Promise<Array<StoredDefinition<Pipeline>>> {
    return this.listDefinitions("PIPELINES");
  }
  deletePipeline(name: string): Promise<boolean> {
    return this.deleteDefinition("PIPELINE", name);
  }
  putJob(job: JobTemplate, now: string): Promise<void> {
    return this.putDefinition("JOB", "JOBS", job.name, job, now);
  }
  getJob(name: string): Promise<StoredDefinition<JobTemplate> | undefined> {
    return this.getDefinition("JOB", name);
  }
  listJobs(): Promise<Array<StoredDefinition<JobTemplate>>> {
    return this.listDefinitions("JOBS");
  }
  deleteJob(name: string): Promise<boolean> {
    return this.deleteDefinition("JOB", name);
  }

  private async putDefinition(
    kind: "PIPELINE" | "JOB",
    list: string,
    name: string,
    value: unknown,
    now: string,
  ) {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          ...definitionKey(kind, name),
          doc: S(JSON.stringify(value)),
          updatedAt: S(now),
          gsi1pk: S(list),
          gsi1sk: S(name),
        },
      }),
    );
  }

  private async getDefinition<T>(
    kind: "PIPELINE" | "JOB",
    name: string,
  ): Promise<StoredDefinition<T> | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: definitionKey(kind, name), ConsistentRead: true }),
    );
    return Item ? { value: JSON.parse(str(Item, "doc")) as T, updatedAt: str(Item, "updatedAt") } : undefined;
  }

  private async listDefinitions<T>(list: string): Promise<Array<StoredDefinition<T>>> {
    const { items } = await this.queryUpTo(
      {
        IndexName: INDEX.byPipeline,
        KeyConditionExpression: "gsi1pk = :pk",
        ExpressionAttributeValues: { ":pk": S(list) },
      },
      Number.POSITIVE_INFINITY,
    );
    return items.map((item) => ({
      value: JSON.parse(str(item, "doc")) as T,
      updatedAt: str(item, "updatedAt"),
    }));
  }

  private async deleteDefinition(kind: "PIPELINE" | "JOB", name: string): Promise<boolean> {
    const { Attributes } = await this.client.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: definitionKey(kind, name),
        ReturnValues: "ALL_OLD",
      }),
    );
    return Attributes !== undefined;
  }

  // ------------------------------------------------------------ sent records

  async claim(key: string, now: string, leaseSeconds: number): Promise<boolean> {
    const nowSeconds = Math.floor(Date.parse(now) / 1000);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...sentKey(key),
            state: S("claimed"),
            leaseUntil: N(nowSeconds + leaseSeconds),
            [TTL_ATTRIBUTE]: N(nowSeconds + this.ledgerTtl),
          },
          // Free, or claimed by a sender whose lease ran out (it died between claiming and sending).
          ConditionExpression: "attribute_not_exists(pk) OR (#state = :claimed AND leaseUntil < :now)",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":claimed": S("claimed"), ":now": N(nowSeconds) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async complete(key: string, now: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: sentKey(key),
        UpdateExpression: "SET #state = :sent, sentAt = :now",
        ExpressionAttributeNames: { "#state": "state" },
        ExpressionAttributeValues: { ":sent": S("sent"), ":now": S(now) },
      }),
    );
  }

  async release(key: string): Promise<void> {
    await this.client
      .send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: sentKey(key),
          ConditionExpression: "#state = :claimed",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":claimed": S("claimed") },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  // ------------------------------------------------------------ rate limits

  async acquire(
    key: string,
    limit: { max: number; perSeconds: number },
    now: string,
  ): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    const nowSeconds = Date.parse(now) / 1000;
    const window = Math.floor(nowSeconds / limit.perSeconds);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: rateKey(key, window),
          UpdateExpression: "ADD used :one SET #ttl = :ttl",
          ConditionExpression: "attribute_not_exists(used) OR used < :max",
          ExpressionAttributeNames: { "#ttl": TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ":one": N(1),
            ":max": N(limit.max),
            ":ttl": N(Math.ceil(nowSeconds) + 3600),
          },
        }),
      );
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { ok: false, retryAfterSeconds: (window + 1) * limit.perSeconds - nowSeconds };
    }
  }
}
