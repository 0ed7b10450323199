import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Checks objects against the Kubernetes project's own OpenAPI description of v1.34 (`../shared/kubernetes`),
 * strictly, as the API server's strict field validation does: an unknown field, a wrong type or a missing required
 * field is a problem. Only the schema's structure is checked; the API server's own validation rules (names, label
 * syntax, restartPolicy…) are `validation.ts`'s.
 */

const SWAGGER = fileURLToPath(new URL("../../../shared/kubernetes/swagger-1.34.0.json", import.meta.url));

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  "x-kubernetes-group-version-kind"?: Array<{ group: string; version: string; kind: string }>;
}

interface Spec {
  definitions: Record<string, Schema>;
  byKind: Map<string, string>;
}

let loaded: Spec | undefined;

/** Reads the schema now (about 0.1 s), so that no request waits for it: the fake calls it before listening. */
export function loadSchema(): void {
  spec();
}

function spec(): Spec {
  if (loaded) return loaded;
  const { definitions } = JSON.parse(readFileSync(SWAGGER, "utf8")) as {
    definitions: Record<string, Schema>;
  };
  const byKind = new Map<string, string>();
  for (const [name, schema] of Object.entries(definitions))
    for (const gvk of schema["x-kubernetes-group-version-kind"] ?? []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      // List kinds and the like share a few GVKs (DeleteOptions, WatchEvent): the first definition is the object's.
      if (!byKind.has(`${apiVersion} ${gvk.kind}`)) byKind.set(`${apiVersion} ${gvk.kind}`, name);
    }
  loaded = { definitions, byKind };
  return loaded;
}

/** The problems of one object, each `path: what` (`spec.template.spec.containers[0].imagee: unknown field`). */
export function schemaProblems(object: unknown): string[] {
  const { apiVersion, kind } = (object ?? {}) as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["apiVersion and kind: required"];
  const definition = spec().byKind.get(`${apiVersion} ${kind}`);
  if (!definition) return [`no kind "${kind}" is registered for version "${apiVersion}"`];
  return problemsOf(object, { $ref: `#/definitions/${definition}` });
}

/** The problems of a value against a named definition, e.g. `io.k8s.api.batch.v1.JobSpec`. */
export function problemsOf(value: unknown, schema: Schema, path = ""): string[] {
  const problems: string[] = [];
  check(value, schema, path, problems);
  return problems;
}

function check(value: unknown, schema: Schema, path: string, problems: string[]): void {
  const at = path === "" ? "(root)" : path;
  if (schema.$ref) {
    const name = schema.$ref.replace("#/definitions/", "");
    const target = spec().definitions[name];
    if (!target) throw new Error(`the schema has no definition ${name}`);
    // A Quantity is written as a string, but the server also decodes a plain number (`memory: 1`).
    if (name === QUANTITY && typeof value === "number") return;
    check(value, target, path, problems);
    return;
  }
  if (value === null) return; // The API server decodes null as the field's zero value.
  if (schema.format === "int-or-string") {
    if (!(typeof value === "string" || Number.isInteger(value)))
      problems.push(`${at}: must be an integer or a string`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  switch (schema.type) {
    case undefined:
      return; // RawExtension, FieldsV1: anything the server can decode.
    case "object": {
      if (typeof value !== "object" || Array.isArray(value))
        return void problems.push(`${at}: must be an object`);
      const record = value as Record<string, unknown>;
      for (const name of schema.required ?? [])
        if (record[name] === undefined) problems.push(`${join(path, name)}: required`);
      for (const [name, field] of Object.entries(record)) {
        if (field === undefined) continue;
        const property = schema.properties?.[name];
        if (property) check(field, property, join(path, name), problems);
        else if (typeof schema.additionalProperties === "object")
          check(field, schema.additionalProperties, `${path}[${name}]`, problems);
        else if (schema.additionalProperties !== true) problems.push(`${join(path, name)}: unknown field`);
      }
      return;
    }
    case "array":
      if (!Array.isArray(value)) return void problems.push(`${at}: must be a list`);
      for (const [i, item] of value.entries())
        if (schema.items) check(item, schema.items, `${path}[${i}]`, problems);
      return;
    case "string":
      if (typeof value !== "string") return void problems.push(`${at}: must be a string`);
      if (schema.format === "byte" && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
        problems.push(`${at}: must be base64`);
      if (schema.format === "date-time" && Number.isNaN(Date.parse(value)))
        problems.push(`${at}: must be an RFC 3339 time`);
      return;
    case "integer":
      if (!Number.isInteger(value)) return void problems.push(`${at}: must be an integer`);
      if (schema.format === "int32" && ((value as number) > 2 ** 31 - 1 || (value as number) < -(2 ** 31)))
        problems.push(`${at}: must fit in 32 bits`);
      return;
    case "number":
      if (typeof value !== "number") problems.push(`${at}: must be a number`);
      return;
    case "boolean":
      if (typeof value !== "boolean") problems.push(`${at}: must be true or false`);
      return;
    default:
      throw new Error(`the schema checker does not know type ${schema.type} (at ${at})`);
  }
}

const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const join = (path: string, name: string) => (path === "" ? name : `${path}.${name}`);
