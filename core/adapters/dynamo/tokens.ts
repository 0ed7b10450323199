import { Identity } from "../../model/index.js";
import type { PendingLogin, StoredToken, TokenStore } from "../../ports.js";
import { allOf, itemAbsent, update } from "./conditions.js";
import { type Item, isExpired, KEYS, N, S, schemaAttribute, schemaOf, str, TTL_ATTRIBUTE } from "./items.js";
import { INDEX } from "./table.js";
import type { TableIO } from "./table-io.js";

/** A token's item outlives its expiry by this long, so that using it is still answered "expired". */
export const TOKEN_KEPT_AFTER_EXPIRY_SECONDS = 30 * 24 * 3600;

const epochSeconds = (iso: string) => Math.ceil(Date.parse(iso) / 1000);
/** The byCollection partition of one owner's tokens: a person's subject, or "service". */
const ownerPartition = (owner: string) => `TOKENS#${owner}`;
export const ownerOf = (token: Pick<StoredToken, "kind" | "identity">): string =>
  token.kind === "service" ? "service" : (token.identity?.subject ?? "");

function tokenFromItem(item: Item): StoredToken {
  schemaOf(item);
  const identity = item.identity?.S ? Identity.parse(JSON.parse(item.identity.S)) : undefined;
  return {
    id: str(item, "id"),
    name: str(item, "name"),
    hash: str(item, "hash"),
    kind: str(item, "kind") === "service" ? "service" : "person",
    ...(identity && { identity }),
    createdBy: str(item, "createdBy"),
    createdAt: str(item, "createdAt"),
    expiresAt: str(item, "tokenExpiresAt"),
    ...(item.revokedAt?.S && { revokedAt: item.revokedAt.S }),
    ...(item.revokedBy?.S && { revokedBy: item.revokedBy.S }),
  };
}

/** Personal and service tokens (by id, listed per owner) and pending CLI logins (by their code's hash). */
export class TokenRepository implements TokenStore {
  constructor(private readonly io: TableIO) {}

  async create(token: StoredToken): Promise<void> {
    const written = await this.io.put(
      {
        ...KEYS.token(token.id),
        ...schemaAttribute(),
        id: S(token.id),
        name: S(token.name),
        hash: S(token.hash),
        kind: S(token.kind),
        ...(token.identity && { identity: S(JSON.stringify(token.identity)) }),
        createdBy: S(token.createdBy),
        createdAt: S(token.createdAt),
        tokenExpiresAt: S(token.expiresAt),
        [TTL_ATTRIBUTE]: N(epochSeconds(token.expiresAt) + TOKEN_KEPT_AFTER_EXPIRY_SECONDS),
        [INDEX.byCollection.pk]: S(ownerPartition(ownerOf(token))),
        [INDEX.byCollection.sk]: S(`${token.createdAt}#${token.id}`),
      },
      itemAbsent,
    );
    if (!written.ok) throw new Error(`token id ${token.id} already exists`);
  }

  async get(id: string): Promise<StoredToken | undefined> {
    const item = await this.io.get(KEYS.token(id));
    return item && tokenFromItem(item);
  }

  async list(owner: string): Promise<StoredToken[]> {
    const { items } = await this.io.query(
      {
        IndexName: INDEX.byCollection.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": INDEX.byCollection.pk },
        ExpressionAttributeValues: { ":pk": S(ownerPartition(owner)) },
        ScanIndexForward: false,
      },
      Number.POSITIVE_INFINITY,
    );
    return items.map(tokenFromItem);
  }

  async revoke(id: string, at: string, by: string): Promise<StoredToken | undefined> {
    const existing = await this.get(id);
    if (!existing) return undefined;
    if (existing.revokedAt) return existing;
    const written = await this.io.update(
      KEYS.token(id),
      update(
        "SET #revokedAt = :revokedAt, #revokedBy = :revokedBy",
        {
          "#revokedAt": "revokedAt",
          "#revokedBy": "revokedBy",
        },
        { ":revokedAt": S(at), ":revokedBy": S(by) },
      ),
      allOf(
        { expression: "attribute_exists(pk)", names: {}, values: {} },
        { expression: "attribute_not_exists(#revokedAt)", names: { "#revokedAt": "revokedAt" }, values: {} },
      ),
    );
    // Revoked by someone else meanwhile: it is revoked either way.
    if (!written.ok) return this.get(id);
    return { ...existing, revokedAt: at, revokedBy: by };
  }

  async putLogin(login: PendingLogin): Promise<void> {
    await this.io.put(
      {
        ...KEYS.login(login.codeHash),
        ...schemaAttribute(),
        challenge: S(login.challenge),
        identity: S(JSON.stringify(login.identity)),
        [TTL_ATTRIBUTE]: N(epochSeconds(login.expiresAt)),
      },
      itemAbsent,
    );
  }

  /** Read, then deleted on the condition that it is still there: of two takers racing, one gets it. */
  async takeLogin(codeHash: string, now: string): Promise<PendingLogin | undefined> {
    const item = await this.io.get(KEYS.login(codeHash));
    if (!item || isExpired(item, now)) return undefined;
    schemaOf(item);
    const deleted = await this.io.delete(KEYS.login(codeHash), {
      expression: "attribute_exists(pk)",
      names: {},
      values: {},
    });
    if (!deleted.ok || !deleted.existed) return undefined;
    return {
      codeHash,
      challenge: str(item, "challenge"),
      identity: Identity.parse(JSON.parse(str(item, "identity"))),
      expiresAt: new Date(Number(item[TTL_ATTRIBUTE]?.N ?? 0) * 1000).toISOString(),
    };
  }
}
