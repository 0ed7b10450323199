/**
 * The DynamoDB table as SST's `sst.aws.Dynamo` takes it, derived from the one definition the tests and the local
 * stack create (core/adapters/dynamo/table.ts), so AWS and DynamoDB Local cannot drift apart. Plain data without
 * SST types: the main type check and the tests read it without SST installed.
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { TTL_ATTRIBUTE, tableDefinition } from "../core/adapters/dynamo/table.js";

type FieldType = "string" | "number" | "binary";
type Projection = "all" | "keys-only" | string[];

interface TableArgs {
  fields: Record<string, FieldType>;
  primaryIndex: { hashKey: string; rangeKey?: string };
  globalIndexes: Record<string, { hashKey: string; rangeKey?: string; projection: Projection }>;
  ttl: string;
}

const FIELD_TYPES: Record<string, FieldType> = { S: "string", N: "number", B: "binary" };

/** Throws on anything of the definition SST's Dynamo cannot express, rather than dropping it silently. */
export function tableArgs(definition: CreateTableCommandInput = tableDefinition("hookflow")): TableArgs {
  if (definition.LocalSecondaryIndexes?.length)
    throw new Error("local secondary indexes are not mapped to sst.aws.Dynamo (localIndexes): add them here");
  if (definition.BillingMode !== "PAY_PER_REQUEST")
    throw new Error("sst.aws.Dynamo creates on-demand (PAY_PER_REQUEST) tables only");
  if (definition.StreamSpecification)
    throw new Error("streams are not mapped to sst.aws.Dynamo (stream): add them");

  const fields: Record<string, FieldType> = {};
  for (const { AttributeName, AttributeType } of definition.AttributeDefinitions ?? []) {
    const type = FIELD_TYPES[AttributeType ?? ""];
    if (!AttributeName || !type)
      throw new Error(`attribute ${AttributeName} has no SST type (${AttributeType})`);
    fields[AttributeName] = type;
  }

  const globalIndexes: TableArgs["globalIndexes"] = {};
  for (const index of definition.GlobalSecondaryIndexes ?? []) {
    if (!index.IndexName) throw new Error("a global secondary index without a name");
    globalIndexes[index.IndexName] = {
      ...keysOf(index.KeySchema),
      projection: projectionOf(index.Projection),
    };
  }
  return { fields, primaryIndex: keysOf(definition.KeySchema), globalIndexes, ttl: TTL_ATTRIBUTE };
}

function keysOf(schema: CreateTableCommandInput["KeySchema"]): { hashKey: string; rangeKey?: string } {
  const hashKey = schema?.find((k) => k.KeyType === "HASH")?.AttributeName;
  const rangeKey = schema?.find((k) => k.KeyType === "RANGE")?.AttributeName;
  if (!hashKey) throw new Error("a key schema without a HASH key");
  return rangeKey ? { hashKey, rangeKey } : { hashKey };
}

type IndexProjection = NonNullable<
  NonNullable<CreateTableCommandInput["GlobalSecondaryIndexes"]>[number]["Projection"]
>;

function projectionOf(projection: IndexProjection | undefined): Projection {
  switch (projection?.ProjectionType) {
    case "KEYS_ONLY":
      return "keys-only";
    case "INCLUDE":
      return [...(projection.NonKeyAttributes ?? [])];
    default:
      return "all";
  }
}
