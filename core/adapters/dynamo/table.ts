import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { TTL_ATTRIBUTE } from "./items.js";

export { TTL_ATTRIBUTE };

/**
 * One table holds everything. Items, their keys and indexes (GSI: partition / sort key):
 *
 * | item            | pk                           | sk         | indexed as                                           |
 * | --------------- | ---------------------------- | ---------- | ---------------------------------------------------- |
 * | run             | RUN#<id>                     | RUN        | while needsReconciling: active: ACTIVE / <createdAt>#<id> |
 * |                 |                              |            | after: byCollection: PIPELINE#<name> / <createdAt>#<id> |
 * |                 |                              |            | and byTime: RUNS / <createdAt>#<id>                  |
 * | run spec        | RUN#<id>                     | SPEC#<hash>| (none: read with its run's partition)                |
 * | task report     | RUN#<id>                     | REPORT#<task>#<attempt>#<kind> | (none)                           |
 * | pipeline        | PIPELINE#<name>              | PIPELINE   | byCollection: PIPELINES / <name>                     |
 * | job template    | JOB#<name>                   | JOB        | byCollection: JOBS / <name>                          |
 * | enabled repo    | REPO#<provider>#<path>       | REPO       | byCollection: REPOSITORIES / <provider>/<path>       |
 * | delivered body  | BODY#<provider>#<sha256 hex> | BODY       | TTL: the delivery TTL (7 days)                       |
 * | sent record     | SENT#<key>                   | SENT       | TTL: the ledger TTL (30 days)                        |
 * | rate counter    | RATE#<sha256 hex of its key> | W#<window> | TTL: an hour after its last count                    |
 * | slot counter    | SLOTS#<pipeline>             | COUNT      | (none; one written before `waiting` is in byCollection SLOTS / <pipeline> until its next write) |
 * | slot holder     | SLOTS#<pipeline>             | HOLD#<run>#<task>#<attempt> | (none: read with its counter's partition) |
 * | slot waiter     | SLOTS#<pipeline>             | WAIT#<since>#<run>#<task>#<attempt> | (none: read with its counter's partition) |
 * | repo schedule   | RSCHEDULE#<provider>#<repository>#<branch> | <pipeline>#<schedule key> | byCollection: RSCHEDULES / <provider>/<repository>#<branch>#<pipeline>#<key> |
 * | definition ver. | PIPELINE#<name> / JOB#<name> | <kind>#V#<8-digit version> | (none: never listed, kept after deletes) |
 * | token           | TOKEN#<id>                   | TOKEN      | byCollection: TOKENS#<owner> / <createdAt>#<id>      |
 * |                 |                              |            | TTL: 30 days after the token's expiry                |
 * | pending login   | LOGIN#<sha256 hex of code>   | LOGIN      | TTL: 10 minutes                                      |
 * | audit entry     | AUDIT#<at>#<random id>       | AUDIT      | byTime: AUDIT / <at>#<id>; TTL: audit retention      |
 *
 * What else each holds (besides `schema`, and `expiresAt` on TTL'd items):
 * - run (head): `doc` (brotli-compressed JSON of the run without its version and spec; version 1 and 2 heads hold
 *   the whole run as JSON text), `spec` (the hash naming its spec item; absent before version 3), `version`, and
 *   for the indexes and conditions `pipeline`, `status`, `concurrencyGroup` (and, before version 3, `id` and
 *   `createdAt`, which the active index's sort key also holds). A version 1 or 2 head carries the keys of all
 *   three indexes whatever its state; it is listed once, and its next save keeps only those its state calls for.
 * - run spec: `doc` (brotli-compressed JSON of definition, job templates, params, variables, trigger); written
 *   when the run is created, never changed (a different spec would be another item, named by its hash).
 * - task report: `event` (the report as a RunEvent, JSON), `at` (when received). The kind is `started`,
 *   `outputs#<hash of the outputs>` or `end`: the same report again is the same item, an attempt ends once.
 * - pipeline, job template: `doc` (the definition as JSON), `updatedAt`, `version` (absent: saved before
 *   versions were kept, read as 0); each version saved is also its own item with the same attributes.
 * - token: `id`, `name`, `hash` (SHA-256 of its secret, never the secret), `kind` (person or service),
 *   `identity` (JSON: subject, username, email, groups), `createdBy`, `createdAt`, `tokenExpiresAt`, and once
 *   revoked `revokedAt`, `revokedBy`. The owner is the person's subject, or "service".
 * - pending login: `challenge` (SHA-256 of the CLI's verifier), `identity`; deleted when exchanged.
 * - audit entry: `doc` (the entry as JSON); written once with a condition that it is new, never updated.
 * - enabled repository: `provider`, `repository`, `enabledAt` (its pipelines are read from its files).
 * - delivered body: `deliveryId` (the first delivery that brought it), `runs` (JSON), `receivedAt`.
 * - sent record: `state` (claimed or sent), `leaseUntil` (epoch seconds), `sentAt`.
 * - rate counter: `used`.
 * - slot counter: `pipeline`, `held` and `waiting` (how many of the pipeline's `maxRunningTasks` slots are held,
 *   how many attempts wait), `holders` (a string set: the key of each attempt holding a slot, 8 characters of a
 *   hash), `suspects` (keys the repair found held by no attempt in flight), `writes` (how many writes moved
 *   them); slot waiter: `runId`, `task`, `attempt` and `since` (its run's createdAt); slot holder (written by the
 *   release before, still counted in `held` until given back): `runId`, `task`, `attempt`. Every write keeps
 *   `held` equal to the holders and `waiting` to the waiters (task-slots.ts).
 * - repo schedule: `provider`, `repository`, `branch`, `pipeline`, `key`, `schedule` (JSON), `recordedAt`: a
 *   schedule the last push read to `branch` found in the repository's file (repository-schedules.ts).
 *
 * Access patterns (people): a token by id (GetItem, consistent, so a revocation counts at once); one owner's
 * tokens (Query byCollection); the audit newest first (Query byTime, partition AUDIT); a definition's latest
 * version (Query its partition, descending, one item) and any version (GetItem).
 *
 * Access patterns: a run by id (GetItem, consistent); runs of a pipeline newest first (Query byCollection,
 * descending, merged with the pipeline's runs in active); all runs newest first (Query byTime, merged with
 * active); unfinished runs for the reconciler and concurrency groups (Query active, a sparse index: a run leaves
 * it when it no longer needs reconciling, and only then joins byCollection and byTime, which project ALL: a head
 * in them is copied into both on every save, so it joins them once, after its last busy save; runs.ts: runItem); pipelines and job templates by name (GetItem)
 * or all of them (Query byCollection); a delivery by provider and id (GetItem); the delivery that first brought a
 * body, by the body's SHA-256 (a conditional PutItem that returns the holder when it fails); a notification's
 * sent record by its idempotency key (conditional PutItem); a robot's counter for the current window (a
 * conditional ADD). Rate keys are robot URLs, whose query carries the robot's access token: only their hash is
 * stored. TTL'd items count as gone once expired, even before DynamoDB deletes them (within days).
 *
 * byCollection is an ordered list of members: the runs of one pipeline, all pipelines, all job templates. Its
 * physical name stays `byPipeline` (and its attributes gsi1pk/gsi1sk), as the first release created it:
 * renaming a GSI on AWS builds a new index online and deletes the old one, and until the new one is backfilled
 * every listing (the catalog each webhook delivery reads) fails. A name in code costs nothing.
 *
 * Upgrades: every item this release writes carries `schema: 3` (version 3 changed only runs, as above). Items without `schema` were written by the
 * first release and are version 1; this release reads both (they differ in no attribute it reads; a counter's
 * version 1 key held the URL itself and is simply no longer looked up, so a robot's budget restarts once, and
 * expires within the hour). A release reads the previous version's items as they are and writes its own version;
 * an item of a version newer than the reader's is refused (items.ts: schemaOf), never misread.
 *
 * A run is a head, a spec and its task reports, in one partition read by one strongly consistent Query
 * (docs/decisions.md, 1). A transition is one conditional write of the head (on `version`); a task's callback
 * writes only its own report item, and every read folds the reports in (engine: foldReports), so parallel
 * tasks never contend on the head. Items are at most 400 KB; core/model/limits.ts keeps the largest valid run
 * under that, and test/unit/limits.test.ts measures it. The RUNS and ACTIVE partitions are single keys: fine for the write rates of CI (a few per
 * second); shard them by a suffix if that ever changes.
 */
export const INDEX = {
  byCollection: { name: "byPipeline", pk: "gsi1pk", sk: "gsi1sk" },
  byTime: { name: "byTime", pk: "gsi2pk", sk: "gsi2sk" },
  active: { name: "active", pk: "activePk", sk: "activeSk" },
} as const;

export function tableDefinition(name: string): CreateTableCommandInput {
  const keys = (hash: string, range: string) => [
    { AttributeName: hash, KeyType: "HASH" as const },
    { AttributeName: range, KeyType: "RANGE" as const },
  ];
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: ["pk", "sk", ...Object.values(INDEX).flatMap((i) => [i.pk, i.sk])].map((n) => ({
      AttributeName: n,
      AttributeType: "S" as const,
    })),
    KeySchema: keys("pk", "sk"),
    GlobalSecondaryIndexes: [
      {
        IndexName: INDEX.byCollection.name,
        KeySchema: keys(INDEX.byCollection.pk, INDEX.byCollection.sk),
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: INDEX.byTime.name,
        KeySchema: keys(INDEX.byTime.pk, INDEX.byTime.sk),
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: INDEX.active.name,
        KeySchema: keys(INDEX.active.pk, INDEX.active.sk),
        Projection: {
          ProjectionType: "INCLUDE",
          NonKeyAttributes: ["id", "pipeline", "status", "createdAt", "concurrencyGroup"],
        },
      },
    ],
  };
}

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
