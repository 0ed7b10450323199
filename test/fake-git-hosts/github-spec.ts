import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Route } from "./routes.js";

/**
 * GitHub's published API description (`@octokit/openapi`, api.github.com): the fake answers a request only when
 * its method, path and query parameters are in it, and checks that every field of its own answers is one the
 * description declares for that operation, so a field hookflow reads that GitHub does not send fails the test.
 */
type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  additionalProperties?: boolean | Schema;
};
interface Operation {
  parameters?: Array<{ $ref?: string; name?: string; in?: string; required?: boolean }>;
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: {
    parameters: Record<string, { name: string; in: string; required?: boolean }>;
    schemas: Record<string, Schema>;
  };
}

let loaded: Spec | undefined;
function spec(): Spec {
  const require = createRequire(import.meta.url);
  loaded ??= JSON.parse(
    readFileSync(require.resolve("@octokit/openapi/generated/api.github.com.json"), "utf8"),
  ) as Spec;
  return loaded;
}

function resolve<T extends { $ref?: string }>(value: T): T {
  if (!value.$ref) return value;
  const parts = value.$ref.replace(/^#\//, "").split("/");
  let node: unknown = spec();
  for (const part of parts) node = (node as Record<string, unknown>)[part];
  return resolve(node as T);
}

export interface GithubOperation {
  route: Route;
  params: Record<string, string>;
  operation: Operation;
}

/** The operation a request is, by GitHub's description; undefined when GitHub has no such route. */
export function githubOperation(method: string, path: string): GithubOperation | undefined {
  for (const [template, item] of Object.entries(spec().paths)) {
    const operation = item[method.toLowerCase()];
    if (!operation) continue;
    const names: string[] = [];
    // The contents route's {path} is a path inside the repository, slashes included.
    const pattern = template.replace(/[.]/g, "\\.").replace(/\{([a-z_]+)\}/g, (_, name: string) => {
      names.push(name);
      return name === "path" ? "(.+)" : "([^/]+)";
    });
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (!match) continue;
    const parameters = (operation.parameters ?? []).map(resolve);
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(match[i + 1] as string);
    });
    return {
      route: {
        method: "GET",
        template,
        query: parameters.filter((p) => p.in === "query").map((p) => p.name as string),
        required: parameters.filter((p) => p.in === "query" && p.required).map((p) => p.name as string),
        source: "@octokit/openapi api.github.com.json",
      },
      params,
      operation,
    };
  }
  return undefined;
}

/** Fields of `value` that the operation's answer for `status` does not declare (paths like `commit.sha`). */
export function undeclaredFields(operation: Operation, status: number, value: unknown): string[] {
  const schema = operation.responses[String(status)]?.content?.["application/json"]?.schema;
  if (!schema) return [`HTTP ${status} is not an answer this operation declares`];
  return walk(schema, value, "");
}

function walk(raw: Schema, value: unknown, at: string): string[] {
  const schema = resolve(raw);
  const choices = schema.oneOf ?? schema.anyOf;
  if (choices) {
    const results = choices.map((choice) => walk(choice, value, at));
    return (
      results.find((r) => r.length === 0) ?? (results.sort((a, b) => a.length - b.length)[0] as string[])
    );
  }
  if (schema.allOf) {
    const merged: Schema = { properties: {} };
    for (const part of schema.allOf.map(resolve)) Object.assign(merged.properties as object, part.properties);
    return walk(merged, value, at);
  }
  if (Array.isArray(value))
    return schema.items ? value.flatMap((item, i) => walk(schema.items as Schema, item, `${at}[${i}]`)) : [];
  if (value === null || typeof value !== "object") return [];
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const declared = schema.properties?.[key];
    const path = at ? `${at}.${key}` : key;
    if (declared) problems.push(...walk(declared, child, path));
    else if (!schema.additionalProperties) problems.push(path);
  }
  return problems;
}
