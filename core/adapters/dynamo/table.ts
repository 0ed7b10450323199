import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

/**
 * One table holds everything. Items and their keys:
 *
 * | item            | pk                        | sk          | indexed as                                        |
 * | --------------- | ------------------------- | ----------- | ------------------------------------------------- |
 * | run             | RUN#<id>                  | RUN         | byPipeline: PIPELINE#<name> / <createdAt>#<id>     |
 * |                 |                           |             | byTime: RUNS / <createdAt>#<id>                   |
 * |                 |                           |             | active (only while unfinished): ACTIVE / <createdAt>#<id> |
 * | pipeline        | PIPELINE#<name>           | PIPELINE    | byPipeline: PIPELINES / <name>                    |
 * | job template    | JOB#<name>                | JOB         | byPipeline: JOBS / <name>                         |
 * | delivery record | DELIVERY#<provider>#<id>  | DELIVERY    | expires (TTL on expiresAt)                        |
 * | sent record     | SENT#<key>                | SENT        | expires (TTL on expiresAt)                        |
 *
 * Access patterns: a run by id (GetItem, consistent); runs of a pipeline newest first (Query byPipeline,
 * descending); all runs newest first (Query byTime); unfinished runs for the reconciler and concurrency groups
 * (Query active, a sparse index: a run leaves it when it finishes); a delivery by provider and id; a
 * notification's sent record by its idempotency key; pipelines and job templates by name or all of them.
 *
 * A run is one item holding its tasks, so a transition is one conditional write (on `version`). Items are at
 * most 400 KB; core/model/limits.ts keeps the largest valid run under that, and test/unit/limits.test.ts
 * measures it. The RUNS and ACTIVE partitions are single keys: fine for the write rates of CI (a few per
 * second); shard them by a suffix if that ever changes.
 */
export const INDEX = { byPipeline: "byPipeline", byTime: "byTime", active: "active" } as const;

export function tableDefinition(name: string): CreateTableCommandInput {
  const keys = (hash: string, range: string) => [
    { AttributeName: hash, KeyType: "HASH" as const },
    { AttributeName: range, KeyType: "RANGE" as const },
  ];
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "activePk", "activeSk"].map(
      (n) => ({
        AttributeName: n,
        AttributeType: "S" as const,
      }),
    ),
    KeySchema: keys("pk", "sk"),
    GlobalSecondaryIndexes: [
      {
        IndexName: INDEX.byPipeline,
        KeySchema: keys("gsi1pk", "gsi1sk"),
        Projection: { ProjectionType: "ALL" },
      },
      { IndexName: INDEX.byTime, KeySchema: keys("gsi2pk", "gsi2sk"), Projection: { ProjectionType: "ALL" } },
      {
        IndexName: INDEX.active,
        KeySchema: keys("activePk", "activeSk"),
        Projection: {
          ProjectionType: "INCLUDE",
          NonKeyAttributes: ["id", "pipeline", "status", "createdAt", "concurrencyGroup"],
        },
      },
    ],
  };
}

export const TTL_ATTRIBUTE = "expiresAt";

/** Creates the table (and its TTL) unless it exists; used by tests and the local stack, not on AWS (SST is). */
export async function ensureTable(client: DynamoDBClient, name: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(tableDefinition(name)));
  } catch (error) {
    // Already there from an earlier start on the same data directory.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    )
    .catch((error: Error) => {
      // DynamoDB Local answers "TimeToLive is already enabled" on a second start.
      if (!/already enabled/i.test(error.message)) throw error;
    });
}
