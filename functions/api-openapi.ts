import { createRequire } from "node:module";
import { object } from "zod/mini";
import type * as Core from "zod/v4/core";
import type { $ZodPipe, $ZodType, GlobalMeta, JSONSchema, Seen } from "zod/v4/core";
import { MAX_API_BODY_BYTES } from "./api.js";
import * as R from "./api-responses.js";
import type { RouteList } from "./openapi-route.js";

/**
 * The API's OpenAPI 3.1 document, generated from its routes' schemas by zod's own JSON Schema generator
 * (`toJSONSchema`), which reads classic and `zod/mini` schemas alike. Loaded on the first request for it (a dynamic
 * import): the answers' schemas and the generator stay out of the API's cold start (issue 20).
 */

const json = (schema: $ZodType, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/** What a route's `responses` are written with: the answers' schemas and the shared error answers. */
export const docKit = {
  ...R,
  json,
  errors: {
    400: json(R.ErrorResponse, "invalid input, with the path of each problem"),
    401: json(R.ErrorResponse, "missing, unknown, expired or revoked token; a forged or expired session"),
    403: json(R.ErrorResponse, "the caller's role is too low (the message names the role needed)"),
    404: json(R.ErrorResponse, "not found"),
    413: json(R.ErrorResponse, `a body over ${MAX_API_BODY_BYTES / 1024} KB`),
  },
  conflict: { 409: json(R.ErrorResponse, "the run's state does not allow it") },
};
export type DocKit = typeof docKit;

/**
 * zod's JSON Schema generator, from zod's CommonJS build. Its ES module build's files are the ones every function
 * starts with (zod's core re-exports the generator), and esbuild puts what a dynamically imported module uses of
 * a file the start reaches in a chunk the start loads: imported here, the generator (22 KB) would be on the API's
 * start path. What a `require` names is bundled with this module alone. zod keeps one global registry for both
 * builds (on `globalThis`), and the generator reads a schema by its fields, whichever build made it. Without a
 * bundler (tsx) there is no `require`: one is made.
 */
const core: typeof Core =
  typeof require === "function" ? require("zod/v4/core") : createRequire(import.meta.url)("zod/v4/core");

const INFO = {
  title: "hookflow",
  version: "1",
  description:
    "Pipelines, job templates and runs. Every /api route needs a caller: Authorization: Bearer <HOOKFLOW_API_TOKEN or a token from POST /api/tokens>, or the session cookie of a person signed in at /auth/login (then POST, PUT and DELETE also need X-Hookflow-CSRF). Roles: viewer reads; operator starts, cancels and reruns runs; admin changes definitions and reads the audit. Approvals are a person's: one named in the task's approvers.",
};
const SECURITY_SCHEMES = {
  bearer: { type: "http", scheme: "bearer" },
  session: {
    type: "apiKey",
    in: "cookie",
    name: "hookflow_session",
    description: "after GET /auth/login; every POST, PUT and DELETE also needs X-Hookflow-CSRF",
  },
};

/** A route as the document reads it: RouteSpec's shape, over any zod schema (classic or mini). */
export interface DocRoute {
  method: string;
  path: string;
  request?: {
    params?: $ZodType;
    query?: $ZodType;
    body?: { required?: boolean; description?: string; content: Record<string, { schema: $ZodType }> };
  };
  responses: (doc: DocKit) => Record<number, DocResponse>;
  [field: string]: unknown;
}
interface DocResponse {
  description: string;
  content?: Record<string, { schema: $ZodType }>;
  [field: string]: unknown;
}
type Schema = JSONSchema.BaseSchema;

export function openApiDocument(routes: RouteList | DocRoute[]): unknown {
  // Two passes: what a client sends is documented as zod's input (a field with a default is optional), what it
  // gets back as the output. Each route's schemas are converted in place, marked where they go.
  const inputs = new Converter("input");
  const outputs = new Converter("output");
  const operations = (routes as DocRoute[]).map((route) => {
    const { method, path, request, responses, ...rest } = route;
    const params = request?.params && inputs.add(request.params);
    const query = request?.query && inputs.add(request.query);
    const body = request?.body && {
      ...request.body,
      content: mapValues(request.body.content, ({ schema }) => ({ schema: inputs.add(schema) })),
    };
    const answers = mapValues(responses(docKit), ({ content, ...answer }) => ({
      ...answer,
      ...(content && { content: mapValues(content, ({ schema }) => ({ schema: outputs.add(schema) })) }),
    }));
    return { method, path, rest, params, query, body, answers };
  });
  const input = inputs.convert();
  const output = outputs.convert();
  const { schemas, inputRef, outputRef } = components(input.defs, output.defs);
  const inSchema = (at: number | undefined) => (at === undefined ? undefined : inputRef(input.schemas[at]));

  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, path, rest, params, query, body, answers } of operations) {
    const parameters = [
      ...parametersOf(inSchema(params), "path", schemas),
      ...parametersOf(inSchema(query), "query", schemas),
    ];
    paths[path] ??= {};
    paths[path][method] = {
      ...rest,
      ...(parameters.length > 0 && { parameters }),
      ...(body && {
        requestBody: {
          ...body,
          content: mapValues(body.content, ({ schema }) => ({ schema: inSchema(schema) })),
        },
      }),
      responses: mapValues(answers, ({ content, ...answer }) => ({
        ...answer,
        ...(content && {
          content: mapValues(content, ({ schema }) => ({ schema: outputRef(output.schemas[schema]) })),
        }),
      })),
    };
  }
  return {
    openapi: "3.1.0",
    info: INFO,
    // `parameters` and `webhooks` empty, as the document has always had them.
    components: { securitySchemes: SECURITY_SCHEMES, schemas, parameters: {} },
    paths,
    webhooks: {},
  };
}

/**
 * Collects a pass's schemas and converts them together, as the properties of one object: zod extracts every
 * schema with an id in its global registry (`.meta({ id })`, `.register(z.globalRegistry, { id })`) into `$defs`,
 * once, and refers to it there; the rest stays inline where it is used.
 */
class Converter {
  private readonly shape: Record<string, $ZodType> = {};
  private count = 0;
  constructor(private readonly io: "input" | "output") {}

  /** The schema's place in what `convert` gives. */
  add(schema: $ZodType): number {
    this.shape[this.count] = schema;
    return this.count++;
  }

  convert(): { schemas: Schema[]; defs: Record<string, Schema> } {
    const defs: Record<string, Schema> = {};
    const properties = generate(this.shape, this.io, defs);
    const schemas = Array.from({ length: this.count }, (_, at) => properties[at] as Schema);
    return { schemas, defs };
  }
}

/**
 * `toJSONSchema` of an object of `shape`, giving its properties and putting its `$defs` in `defs`, with five rules
 * of the document's own:
 * - It sees through hookflow's schema stand-ins (`schema(() => …)`, core/model/schema.ts). A stand-in is a Proxy,
 *   another object than the schema it builds, which is the one registered with its id and description and the
 *   one classic zod's conversion code (a closure over the schema) looks up among the schemas seen so far. So both
 *   are looked up by the built schema, which the stand-in's bound `apply` hands over.
 * - An answer's object without `.strict()` stays open (no `additionalProperties: false`, which zod writes for an
 *   output because parsing strips unknown keys): no route parses what it answers, and a client must accept a
 *   field added later.
 * - A record's keys are described only when they are more than strings (JSON's keys are nothing else).
 * - An integer's bounds are the ones it states: `.int()` is a safe integer, which zod writes as bounds of ±2^53-1.
 * - A transform's output, which JSON Schema cannot describe, is described by what it transforms (a parameter's
 *   value is documented as string, number or boolean, as a pipeline file gives it).
 */
function generate(
  shape: Record<string, $ZodType>,
  io: "input" | "output",
  defs: Record<string, Schema>,
): Record<string, Schema> {
  const transformed = new Map<$ZodType, $ZodType>();
  const root = object(shape);
  // zod hands a schema's own conversion hook its context: the root's keys what zod has seen by the built schema.
  root._zod.processJSONSchema = (ctx, json, params) => {
    seeThroughStandIns(ctx.seen, transformed);
    ctx.processors.object?.(root, ctx, json, params);
  };
  const { $defs, properties } = core.toJSONSchema(root, {
    io,
    target: "draft-2020-12",
    metadata: new StandInMetadata(),
    unrepresentable: ({ zodSchema }) => {
      const input = transformed.get(built(zodSchema));
      return input ? (generate({ input }, io, defs).input as Schema) : "throw";
    },
    override: ({ zodSchema, jsonSchema }) => {
      const { def } = zodSchema._zod;
      if (
        io === "output" &&
        def.type === "object" &&
        !def.catchall &&
        jsonSchema.additionalProperties === false
      )
        delete jsonSchema.additionalProperties;
      const keys = jsonSchema.propertyNames;
      if (typeof keys === "object" && Object.keys(keys).length === 1 && keys.type === "string")
        delete jsonSchema.propertyNames;
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
    },
  });
  Object.assign(defs, $defs);
  return (properties ?? {}) as Record<string, Schema>;
}

/** Keys `seen` by the schema a stand-in builds, and records in `transformed` what each transform transforms. */
function seeThroughStandIns(seen: Map<$ZodType, Seen>, transformed: Map<$ZodType, $ZodType>): void {
  const { get, set, has } = seen;
  Object.assign(seen, {
    get: (key: $ZodType) => get.call(seen, built(key)),
    has: (key: $ZodType) => has.call(seen, built(key)),
    set: (key: $ZodType, value: Seen) => {
      // Seen before its parts are: a pipe into a transform is known when the transform is met.
      const { def } = (key as $ZodPipe)._zod;
      if (def.type === "pipe" && def.out._zod.def.type === "transform")
        transformed.set(built(def.out), def.in);
      return set.call(seen, built(key), value);
    },
  });
}

const built = (schema: $ZodType): $ZodType =>
  (schema as { apply?: (f: (self: $ZodType) => $ZodType) => $ZodType }).apply?.((self) => self) ?? schema;

/** The global registry, asked about the schema a stand-in builds. */
class StandInMetadata extends core.$ZodRegistry<GlobalMeta> {
  override get<S extends $ZodType>(schema: S) {
    return core.globalRegistry.get(built(schema) as S);
  }
}

const DEFS = "#/$defs/";
const COMPONENTS = "#/components/schemas/";

/**
 * The components of both passes under their ids. A schema both sent and answered whose input differs from its
 * output (a default, a transform) is two components: the input one named `<id>Input`.
 */
function components(input: Record<string, Schema>, output: Record<string, Schema>) {
  let split = new Set<string>();
  for (;;) {
    const inputRef = refsTo(split);
    const differing = Object.keys(input).filter(
      (id) =>
        id in output && JSON.stringify(inputRef(input[id])) !== JSON.stringify(refsTo(new Set())(output[id])),
    );
    if (differing.length === split.size) break;
    split = new Set(differing);
  }
  const inputRef = refsTo(split);
  const outputRef = refsTo(new Set());
  const schemas: Record<string, Schema> = mapValues(output, (schema) => outputRef(schema));
  for (const [id, schema] of Object.entries(input)) {
    const name = split.has(id) ? `${id}Input` : id;
    if (split.has(id) && name in schemas) throw new Error(`two components named ${name}`);
    if (!(id in output) || split.has(id)) schemas[name] = inputRef(schema);
  }
  return { schemas, inputRef, outputRef };
}

/** A copy of `schema` whose `$defs` references point at the document's components (`split`: the input ones). */
function refsTo(split: Set<string>) {
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => {
        if (key !== "$ref" || typeof inner !== "string" || !inner.startsWith(DEFS))
          return [key, rewrite(inner)];
        const id = inner.slice(DEFS.length);
        return [key, `${COMPONENTS}${id}${split.has(id) ? "Input" : ""}`];
      }),
    );
  };
  return (schema: Schema | undefined) => rewrite(schema) as Schema;
}

/** A path's or query's object schema as OpenAPI parameters, one per property. */
function parametersOf(schema: Schema | undefined, where: "path" | "query", schemas: Record<string, Schema>) {
  if (!schema) return [];
  const object = typeof schema.$ref === "string" ? schemas[schema.$ref.slice(COMPONENTS.length)] : schema;
  const required = new Set(object?.required ?? []);
  return Object.entries(object?.properties ?? {}).map(([name, property]) => ({
    schema: property,
    required: where === "path" || required.has(name),
    name,
    in: where,
    ...(typeof property === "object" &&
      property.description !== undefined && { description: property.description }),
  }));
}

function mapValues<T, U>(record: Record<string, T>, f: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value)]));
}
