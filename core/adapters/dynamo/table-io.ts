import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { RetryableError } from "../../errors.js";
import { type Expression, expressionInput } from "./conditions.js";
import type { Item } from "./items.js";
import { INDEX } from "./table.js";

/** A conditional write's outcome: done, or refused with the item as it was when the condition failed. */
export type Written = { ok: true } | { ok: false; current: Item | undefined };

/** One write of a transaction; `condition` must hold (for `delete`, `put`, `update`) or `check` be true. */
export type TransactWrite =
  | { check: Item; condition: Expression }
  | { put: Item; condition?: Expression }
  | { delete: Item; condition?: Expression }
  | { update: Item; expression: Expression; condition?: Expression };

/**
 * A transaction's outcome: all written, or none, with which writes' conditions failed (by position) and, for
 * each of those, the item as it was (ReturnValuesOnConditionCheckFailure: ALL_OLD).
 */
export type Transacted = { ok: true } | { ok: false; failed: boolean[]; current: (Item | undefined)[] };

/** DynamoDB cancels a transaction that meets another on the same item; it is tried again this many times. */
const TRANSACTION_TRIES = 8;

export type Query = Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey" | "Limit">;

/**
 * The DynamoDB I/O the repositories share, one request each: the repositories hold the logic. A failed condition
 * is an answer, not an exception, and carries the stored item (ReturnValuesOnConditionCheckFailure: ALL_OLD), so
 * a caller never reads it again to learn what won.
 */
export class TableIO {
  constructor(
    private readonly client: DynamoDBClient,
    readonly table: string,
  ) {}

  /** Strongly consistent. */
  async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  /** Strongly consistent; items that do not exist are left out. At most 100 keys a request, as DynamoDB takes. */
  async getMany(keys: Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] | undefined = keys.slice(i, i + 100);
      // DynamoDB may leave some keys unprocessed (throughput, response size): ask for those again.
      for (let round = 0; pending && pending.length > 0 && round < 10; round++) {
        const answer: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        found.push(...(answer.Responses?.[this.table] ?? []));
        pending = answer.UnprocessedKeys?.[this.table]?.Keys;
      }
    }
    return found;
  }

  async put(item: Item, condition?: Expression): Promise<Written> {
    return outcome(
      await conditional(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: item,
            ...expressionInput({ condition }),
            ...(condition && { ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
          }),
        ),
      ),
    );
  }

  async update(key: Item, update: Expression, condition?: Expression): Promise<Written> {
    return outcome(
      await conditional(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key,
            ...expressionInput({ update, condition }),
            ...(condition && { ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
          }),
        ),
      ),
    );
  }

  /** Like `update`, and returns the item as the update left it (ReturnValues: ALL_NEW). */
  async updateAndRead(
    key: Item,
    update: Expression,
    condition?: Expression,
  ): Promise<{ ok: true; item: Item | undefined } | { ok: false; current: Item | undefined }> {
    const written = await conditional(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          ...expressionInput({ update, condition }),
          ReturnValues: "ALL_NEW",
          ...(condition && { ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
        }),
      ),
    );
    return written.ok ? { ok: true, item: written.value.Attributes } : written;
  }

  /** Deletes `key` (if `condition` holds); `existed` says whether there was an item to delete. */
  async delete(
    key: Item,
    condition?: Expression,
  ): Promise<{ ok: true; existed: boolean } | { ok: false; current: Item | undefined }> {
    const deleted = await conditional(() =>
      this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: key,
          ...expressionInput({ condition }),
          ReturnValues: "ALL_OLD",
          ...(condition && { ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
        }),
      ),
    );
    return deleted.ok ? { ok: true, existed: deleted.value.Attributes !== undefined } : deleted;
  }

  /**
   * All of `writes` or none (TransactWriteItems: at most 100 writes, each item once). A failed condition is an
   * answer naming the writes whose condition failed; a conflict with another transaction is tried again.
   */
  async transactWrite(writes: TransactWrite[]): Promise<Transacted> {
    if (writes.length > 100) throw new Error(`a transaction takes at most 100 writes, not ${writes.length}`);
    const old = { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const };
    const items = writes.map((w) => {
      if ("check" in w)
        return {
          ConditionCheck: {
            TableName: this.table,
            Key: w.check,
            ...(expressionInput(w) as { ConditionExpression: string }),
            ...old,
          },
        };
      if ("put" in w) return { Put: { TableName: this.table, Item: w.put, ...expressionInput(w), ...old } };
      if ("delete" in w)
        return { Delete: { TableName: this.table, Key: w.delete, ...expressionInput(w), ...old } };
      return {
        Update: {
          TableName: this.table,
          Key: w.update,
          ...(expressionInput({ update: w.expression, condition: w.condition }) as {
            UpdateExpression: string;
          }),
          ...old,
        },
      };
    });
    for (let i = 0; i < TRANSACTION_TRIES; i++) {
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
        return { ok: true };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        const codes = reasons.map((r) => r.Code);
        if (codes.some((c) => c === "ConditionalCheckFailed"))
          return {
            ok: false,
            failed: writes.map((_, n) => codes[n] === "ConditionalCheckFailed"),
            current: writes.map((_, n) => reasons[n]?.Item),
          };
        if (!codes.some((c) => c === "TransactionConflict")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** i * Math.random()));
      }
    }
    throw new RetryableError(`a transaction met others on the same items ${TRANSACTION_TRIES} times`);
  }

  /** Every item of a collection listed through byCollection (its partition `name`), whole. */
  async collection(name: string): Promise<Item[]> {
    const { items } = await this.query(
      {
        IndexName: INDEX.byCollection.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": INDEX.byCollection.pk },
        ExpressionAttributeValues: { ":pk": { S: name } },
      },
      Number.POSITIVE_INFINITY,
    );
    return items;
  }

  /**
   * Queries from `start` until `limit` items came back (a filter applies after DynamoDB's own page limit, so a
   * page may hold fewer); `last` is where the next page starts, absent at the end.
   */
  async query(input: Query, limit: number, start?: Item): Promise<{ items: Item[]; last?: Item }> {
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
}

const outcome = (result: { ok: true } | { ok: false; current: Item | undefined }): Written =>
  result.ok ? { ok: true } : result;

/** Runs a conditional write: a failed condition is an answer carrying the stored item, not an exception. */
async function conditional<T>(
  write: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; current: Item | undefined }> {
  try {
    return { ok: true, value: await write() };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { ok: false, current: error.Item };
    throw error;
  }
}
