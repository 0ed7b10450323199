import { randomBytes } from "node:crypto";
import { ValidationError } from "../../errors.js";
import type { AuditEntry, AuditLog, Page } from "../../ports.js";
import { itemAbsent } from "./conditions.js";
import { type Item, KEYS, N, S, schemaAttribute, schemaOf, str, TTL_ATTRIBUTE } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

const PARTITION = "AUDIT";
const ORDER = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)#([a-z0-9]{16})$/;

/** The audit trail: one item per entry, written once (never updated), listed newest first through byTime. */
export class AuditRepository implements AuditLog {
  constructor(
    private readonly io: TableIO,
    private readonly retentionSeconds: number,
  ) {}

  async append(entry: AuditEntry): Promise<void> {
    const id = randomBytes(8).toString("hex");
    await this.io.put(
      {
        ...KEYS.audit(entry.at, id),
        ...schemaAttribute(),
        doc: S(JSON.stringify(entry)),
        [TTL_ATTRIBUTE]: N(Math.ceil(Date.parse(entry.at) / 1000) + this.retentionSeconds),
        [INDEX.byTime.pk]: S(PARTITION),
        [INDEX.byTime.sk]: S(`${entry.at}#${id}`),
      },
      itemAbsent,
    );
  }

  async list(query: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    const { items, last } = await this.io.query(
      {
        IndexName: INDEX.byTime.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": INDEX.byTime.pk },
        ExpressionAttributeValues: { ":pk": S(PARTITION) },
        ScanIndexForward: false,
      },
      query.limit,
      decodeAuditCursor(query.cursor),
    );
    const cursor = last && Buffer.from(str(last, INDEX.byTime.sk)).toString("base64url");
    return {
      items: items.map((item: Item) => {
        schemaOf(item);
        return JSON.parse(str(item, "doc")) as AuditEntry;
      }),
      ...(cursor && { cursor }),
    };
  }
}

/** A cursor is the last entry's order key, base64url; checked, and the start key rebuilt from its parts. */
function decodeAuditCursor(cursor: string | undefined): Item | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () =>
    new ValidationError("invalid cursor", [
      { path: "cursor", message: "not a cursor this API returned; list again without one" },
    ]);
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const match = ORDER.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw invalid();
  const [order, at, id] = match as unknown as [string, string, string];
  return {
    ...KEYS.audit(at, id),
    [INDEX.byTime.pk]: S(PARTITION),
    [INDEX.byTime.sk]: S(order),
  };
}
