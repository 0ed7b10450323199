import * as z from "zod/mini";
import { ValidationError } from "../../errors.js";
import { type Item, S } from "./items.js";

/**
 * Cursors are the last key of a page of runs, base64url JSON, opaque to clients. A cursor comes back from the
 * outside, so it is checked before it reaches DynamoDB (which answers a malformed start key with a
 * ValidationException, a 500): bounded in size, then exactly the four attributes of a run's key in the index
 * being queried, in that query's partition, its order key matching its run. The key passed on is rebuilt from the
 * checked parts, never the decoded object.
 */
export const MAX_CURSOR_CHARS = 1024;

const RUN_ID = /^[a-z0-9]{1,64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** Where a listing of runs reads: the index's key attributes and the partition the query asked for. */
export interface RunPartition {
  pk: string;
  sk: string;
  value: string;
}

export function encodeCursor(key: Item | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString("base64url") : undefined;
}

const invalid = (message: string) =>
  new ValidationError(`invalid cursor: ${message}`, [{ path: "cursor", message }]);

export function decodeCursor(cursor: string | undefined, partition: RunPartition): Item | undefined {
  if (cursor === undefined) return undefined;
  if (cursor.length > MAX_CURSOR_CHARS) throw invalid(`at most ${MAX_CURSOR_CHARS} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid("not a cursor this API returned (base64url expected)");
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("not a cursor this API returned");
  }
  const value = (schema: z.ZodMiniType<string>) => z.strictObject({ S: schema });
  const parsed = z
    .strictObject({
      pk: value(z.string().check(z.regex(/^RUN#[a-z0-9]{1,64}$/))),
      sk: value(z.literal("RUN")),
      [partition.pk]: value(z.literal(partition.value)),
      [partition.sk]: value(z.string().check(z.maxLength(128))),
    })
    .safeParse(decoded);
  if (!parsed.success) throw invalid("not a cursor this API returned for this query; list again without one");
  const id = (parsed.data.pk as { S: string }).S.slice("RUN#".length);
  const order = (parsed.data[partition.sk] as { S: string }).S;
  const [createdAt, orderId, ...rest] = order.split("#");
  if (rest.length > 0 || orderId !== id || !RUN_ID.test(id) || !ISO_TIME.test(createdAt ?? ""))
    throw invalid("not a cursor this API returned for this query; list again without one");
  return {
    pk: S(`RUN#${id}`),
    sk: S("RUN"),
    [partition.pk]: S(partition.value),
    [partition.sk]: S(`${createdAt}#${id}`),
  };
}
