import { describe, expect, it } from "vitest";
import {
  allOf,
  anyOf,
  expressionInput,
  itemAbsent,
  leaseEndedBefore,
  stateIs,
  update,
  versionIs,
} from "../../core/adapters/dynamo/conditions.js";
import { decodeCursor, encodeCursor } from "../../core/adapters/dynamo/cursor.js";
import { schemaOf } from "../../core/adapters/dynamo/items.js";
import { ValidationError } from "../../core/errors.js";

describe("condition clauses", () => {
  it("combine into one expression with every clause's placeholders", () => {
    expect(
      expressionInput({ condition: anyOf(itemAbsent, allOf(stateIs("claimed"), leaseEndedBefore(9))) }),
    ).toEqual({
      ConditionExpression: "(attribute_not_exists(pk)) OR ((#state = :state) AND (#leaseUntil < :leaseNow))",
      ExpressionAttributeNames: { "#state": "state", "#leaseUntil": "leaseUntil" },
      ExpressionAttributeValues: { ":state": { S: "claimed" }, ":leaseNow": { N: "9" } },
    });
  });

  it("leave out empty placeholder maps, which DynamoDB refuses", () => {
    expect(expressionInput({ condition: itemAbsent })).toEqual({
      ConditionExpression: "attribute_not_exists(pk)",
    });
    expect(expressionInput({})).toEqual({});
  });

  it("merge an update's placeholders with a condition's, and refuse one placeholder with two values", () => {
    const set = update("SET #version = :next", { "#version": "version" }, { ":next": { N: "3" } });
    expect(expressionInput({ update: set, condition: versionIs(2) })).toMatchObject({
      UpdateExpression: "SET #version = :next",
      ConditionExpression: "#version = :version",
      ExpressionAttributeValues: { ":next": { N: "3" }, ":version": { N: "2" } },
    });
    expect(() => anyOf(versionIs(1), versionIs(2))).toThrow(/:version given two values/);
  });
});

describe("cursors", () => {
  const partition = { pk: "gsi1pk", sk: "gsi1sk", value: "PIPELINE#shop" };
  const key = {
    pk: { S: "RUN#r1" },
    sk: { S: "RUN" },
    gsi1pk: { S: "PIPELINE#shop" },
    gsi1sk: { S: "2026-11-23T10:00:00.000Z#r1" },
  };

  it("round-trip a key this API returned", () => {
    expect(decodeCursor(encodeCursor(key), partition)).toEqual(key);
    expect(decodeCursor(undefined, partition)).toBeUndefined();
  });

  it.each([
    ["another partition", { ...key, gsi1pk: { S: "PIPELINE#other" } }],
    ["a time that is not one", { ...key, gsi1sk: { S: "yesterday#r1" } }],
    [
      "a run id with a '#'",
      { ...key, pk: { S: "RUN#r1#x" }, gsi1sk: { S: "2026-11-23T10:00:00.000Z#r1#x" } },
    ],
    ["a missing attribute", { pk: key.pk, sk: key.sk, gsi1pk: key.gsi1pk }],
  ])("refuse %s with a ValidationError on the cursor", (_, tampered) => {
    const error = (() => {
      try {
        decodeCursor(encodeCursor(tampered), partition);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(["cursor"]);
  });
});

describe("schema versions", () => {
  it("read an item without one as version 1, and refuse a newer one than this release reads", () => {
    expect(schemaOf({ pk: { S: "RUN#a" } })).toBe(1);
    expect(schemaOf({ pk: { S: "RUN#a" }, schema: { N: "2" } })).toBe(2);
    expect(schemaOf({ pk: { S: "RUN#a" }, schema: { N: "3" } })).toBe(3);
    expect(() => schemaOf({ pk: { S: "RUN#a" }, schema: { N: "4" } })).toThrow(/RUN#a has schema 4/);
  });
});
