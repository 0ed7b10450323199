import { createHash } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { RetryableError } from "../../errors.js";
import type { Provider } from "../../model/index.js";

/** Attribute helpers and every item's key, in one place beside the layout in table.ts. */
export type Item = Record<string, AttributeValue>;
export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });
export const str = (item: Item, name: string): string => item[name]?.S ?? "";
export const num = (item: Item, name: string): number | undefined =>
  item[name]?.N === undefined ? undefined : Number(item[name]?.N);

/**
 * The layout version this release writes on every item (`schema`). Version 1 is the first release's, which wrote
 * no `schema` attribute at all; its items are read as they are (see table.ts for what each version means).
 * Version 3 compresses a run's document and records task reports as items of their own; other items are as in 2.
 */
export const SCHEMA_VERSION = 3;
export const SCHEMA_ATTRIBUTE = "schema";
export const schemaAttribute = (): Item => ({ [SCHEMA_ATTRIBUTE]: N(SCHEMA_VERSION) });

/**
 * The layout version an item was written in. One written by a newer release is refused, never misread: during a
 * deploy, functions of both releases run side by side, so it is retryable (the work comes back once all run the
 * new code).
 */
export function schemaOf(item: Item): 1 | 2 | 3 {
  const version = num(item, SCHEMA_ATTRIBUTE) ?? 1;
  if (version !== 1 && version !== 2 && version !== 3)
    throw new RetryableError(
      `item ${str(item, "pk")} has schema ${version}; this release reads 1 to 3: deploy the release that wrote it`,
    );
  return version;
}

/** When a TTL'd item stops counting: DynamoDB deletes expired items lazily (within days), so reads check too. */
export const TTL_ATTRIBUTE = "expiresAt";
export const isExpired = (item: Item, nowIso: string): boolean =>
  (num(item, TTL_ATTRIBUTE) ?? Number.POSITIVE_INFINITY) * 1000 < Date.parse(nowIso);

export const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

export type DefinitionKind = "PIPELINE" | "JOB";

export const KEYS = {
  run: (id: string): Item => ({ pk: S(`RUN#${id}`), sk: S("RUN") }),
  /** What a run was started with (definition, templates, params, variables, trigger), named by its hash. */
  spec: (id: string, hash: string): Item => ({ pk: S(`RUN#${id}`), sk: S(`SPEC#${hash}`) }),
  /** A task attempt's report about itself, in its run's partition (`kind`: started, outputs#<hash>, end). */
  report: (id: string, task: string, attempt: number, kind: string): Item => ({
    pk: S(`RUN#${id}`),
    sk: S(`REPORT#${task}#${attempt}#${kind}`),
  }),
  definition: (kind: DefinitionKind, name: string): Item => ({ pk: S(`${kind}#${name}`), sk: S(kind) }),
  /** Version numbers zero-padded, so the versions of one definition sort in order. */
  definitionVersion: (kind: DefinitionKind, name: string, version: number): Item => ({
    pk: S(`${kind}#${name}`),
    sk: S(`${kind}#V#${String(version).padStart(8, "0")}`),
  }),
  token: (id: string): Item => ({ pk: S(`TOKEN#${id}`), sk: S("TOKEN") }),
  login: (codeHash: string): Item => ({ pk: S(`LOGIN#${codeHash}`), sk: S("LOGIN") }),
  audit: (at: string, id: string): Item => ({ pk: S(`AUDIT#${at}#${id}`), sk: S("AUDIT") }),
  /** The SHA-256 of a delivery's body, hex. */
  body: (provider: Provider, sha256: string): Item => ({
    pk: S(`BODY#${provider}#${sha256}`),
    sk: S("BODY"),
  }),
  repository: (provider: Provider, path: string): Item => ({
    pk: S(`REPO#${provider}#${path}`),
    sk: S("REPO"),
  }),
  sent: (key: string): Item => ({ pk: S(`SENT#${key}`), sk: S("SENT") }),
  /** A schedule in a repository's file, under the branch it builds (repository-schedules.ts). */
  repositorySchedule: (
    provider: Provider,
    repository: string,
    branch: string,
    pipeline: string,
    key: string,
  ) => ({
    pk: S(`RSCHEDULE#${provider}#${repository}#${branch}`),
    sk: S(`${pipeline}#${key}`),
  }),
  /** A pipeline's running-task slots (core/adapters/dynamo/task-slots.ts). */
  /** A pipeline's task slots before schema 3's counter: one item with string sets (read once, to migrate). */
  taskSlotsLegacy: (pipeline: string): Item => ({ pk: S(`SLOTS#${pipeline}`), sk: S("SLOTS") }),
  /** How many of a pipeline's slots are held, and by whom; its waiters are items of the same partition. */
  slotCounter: (pipeline: string): Item => ({ pk: S(`SLOTS#${pipeline}`), sk: S("COUNT") }),
  /** A slot held as the release before kept it (now on the counter): given back, never written. */
  slotHolder: (pipeline: string, h: { runId: string; task: string; attempt: number }): Item => ({
    pk: S(`SLOTS#${pipeline}`),
    sk: S(`HOLD#${h.runId}#${h.task}#${h.attempt}`),
  }),
  /** Sorted by the run's creation time: the oldest run's attempts are served first. */
  slotWaiter: (
    pipeline: string,
    w: { since: string; runId: string; task: string; attempt: number },
  ): Item => ({ pk: S(`SLOTS#${pipeline}`), sk: S(`WAIT#${w.since}#${w.runId}#${w.task}#${w.attempt}`) }),
  /** A counter's key is hashed: rate keys carry robot URLs, whose query holds the robot's access token. */
  rate: (key: string, window: number): Item => ({ pk: S(`RATE#${sha256Hex(key)}`), sk: S(`W#${window}`) }),
};
