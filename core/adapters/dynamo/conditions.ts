import type { Item } from "./items.js";
import { N, S, TTL_ATTRIBUTE } from "./items.js";

/**
 * Condition expressions built from named clauses (as Powertools' DynamoDBPersistenceLayer does), so a write
 * reads as what it requires: `anyOf(itemAbsent, allOf(stateIs("claimed"), leaseEndedBefore(now)))`. Each clause
 * owns its placeholders; combining two that give one placeholder different values is a programming error.
 */
export interface Expression {
  expression: string;
  names: Record<string, string>;
  values: Item;
}

const clause = (expression: string, names: Record<string, string>, values: Item): Expression => ({
  expression,
  names,
  values,
});

export const itemAbsent = clause("attribute_not_exists(pk)", {}, {});
export const versionIs = (version: number) =>
  clause("#version = :version", { "#version": "version" }, { ":version": N(version) });
export const stateIs = (state: string) =>
  clause("#state = :state", { "#state": "state" }, { ":state": S(state) });
export const leaseEndedBefore = (nowSeconds: number) =>
  clause("#leaseUntil < :leaseNow", { "#leaseUntil": "leaseUntil" }, { ":leaseNow": N(nowSeconds) });
/** DynamoDB deletes expired items within days, not at once: a write may take over an item that expired. */
export const expiredBefore = (nowSeconds: number) =>
  clause("#ttl < :ttlNow", { "#ttl": TTL_ATTRIBUTE }, { ":ttlNow": N(nowSeconds) });
export const countBelow = (max: number) =>
  clause("(attribute_not_exists(#used) OR #used < :max)", { "#used": "used" }, { ":max": N(max) });
export const deliveryIs = (deliveryId: string) =>
  clause("#delivery = :delivery", { "#delivery": "deliveryId" }, { ":delivery": S(deliveryId) });

function combine(operator: "OR" | "AND", parts: Expression[]): Expression {
  const values: Item = {};
  for (const part of parts)
    for (const [name, value] of Object.entries(part.values)) {
      if (name in values && JSON.stringify(values[name]) !== JSON.stringify(value))
        throw new Error(`condition placeholder ${name} given two values`);
      values[name] = value;
    }
  return {
    expression: parts.map((p) => `(${p.expression})`).join(` ${operator} `),
    names: Object.assign({}, ...parts.map((p) => p.names)),
    values,
  };
}

export const anyOf = (...parts: Expression[]) => combine("OR", parts);
export const allOf = (...parts: Expression[]) => combine("AND", parts);

/** An update expression with its own placeholders, merged with a condition's into one request. */
export const update = clause;

/** The request fields for an update and/or a condition; DynamoDB refuses empty placeholder maps. */
export function expressionInput(parts: { update?: Expression; condition?: Expression }) {
  const merged = combine(
    "AND",
    [parts.update, parts.condition].filter((p): p is Expression => p !== undefined),
  );
  return {
    ...(parts.update && { UpdateExpression: parts.update.expression }),
    ...(parts.condition && { ConditionExpression: parts.condition.expression }),
    ...(Object.keys(merged.names).length > 0 && { ExpressionAttributeNames: merged.names }),
    ...(Object.keys(merged.values).length > 0 && { ExpressionAttributeValues: merged.values }),
  };
}
