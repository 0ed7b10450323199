import { describe, expect, it } from "vitest";
import * as classic from "zod";
import * as z from "zod/mini";
import { schema } from "../../core/model/schema.js";
import { type DocRoute, openApiDocument } from "../../functions/api-openapi.js";

// A route written with zod/mini only (as every schema will be), beside the answers' shared classic ones
// (`d.errors`), and a stand-in of each kind (`schema(() => …)`, what core/model and the API's schemas are).
const Size = z
  ._default(z.number().check(z.int(), z.minimum(1)), 1)
  .check(z.describe("how big, 1 by default"));
const Widget = z
  .object({ name: z.string().check(z.regex(/^[a-z]+$/)), size: Size, tags: z.optional(z.array(z.string())) })
  .check(z.meta({ id: "MiniWidget" }));
const Label = schema(() => z.pipe(z.union([z.string(), z.number()]), z.transform(String)));
const Saved = schema(() =>
  z
    .object({ widget: Widget, label: Label, warnings: z.array(z.string()) })
    .check(z.meta({ id: "MiniSaved" })),
);
const Path = z.object({ name: z.string().check(z.maxLength(63)) });
const Query = z.object({
  limit: schema(() => classic.coerce.number().int().min(1).max(100).default(20)),
  dryRun: z.optional(z.enum(["true", "false"]).check(z.describe("check without saving"))),
});

const widgetRoute: DocRoute = {
  method: "put",
  path: "/api/widgets/{name}",
  security: [{ bearer: [] }],
  description: "saves a widget",
  request: {
    params: Path,
    query: Query,
    body: { required: true, content: { "application/json": { schema: Widget } } },
  },
  responses: (d) => ({
    200: d.json(Saved, "saved"),
    204: { description: "nothing to save" },
    ...d.errors,
  }),
};

type Doc = {
  paths: Record<string, Record<string, Record<string, never>>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

describe("the OpenAPI document of zod/mini routes", () => {
  const doc = openApiDocument([widgetRoute]) as Doc;
  const put = doc.paths["/api/widgets/{name}"]?.put as unknown as {
    parameters: unknown[];
    requestBody: { content: Record<string, { schema: unknown }> };
    responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
    security: unknown;
    description: string;
  };

  it("documents each path and query field as a parameter, as a client sends it", () => {
    expect(put.security).toEqual([{ bearer: [] }]);
    expect(put.description).toBe("saves a widget");
    expect(put.parameters).toEqual([
      { in: "path", name: "name", required: true, schema: { type: "string", maxLength: 63 } },
      {
        in: "query",
        name: "limit",
        required: false,
        schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
      },
      {
        in: "query",
        name: "dryRun",
        required: false,
        description: "check without saving",
        schema: { type: "string", enum: ["true", "false"], description: "check without saving" },
      },
    ]);
  });

  it("makes a registered schema a component, sent (defaults optional) and answered (defaults present) apart", () => {
    expect(put.requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: { $ref: "#/components/schemas/MiniWidgetInput" } } },
    });
    const { MiniWidget, MiniWidgetInput, MiniSaved } = doc.components.schemas;
    expect(MiniWidgetInput).toEqual({
      type: "object",
      properties: {
        name: { type: "string", pattern: "^[a-z]+$" },
        size: { type: "integer", minimum: 1, default: 1, description: "how big, 1 by default" },
        tags: { type: "array", items: { type: "string" } },
      },
      required: ["name"],
    });
    expect(MiniWidget?.required).toEqual(["name", "size"]);
    expect(put.responses["200"]?.content?.["application/json"]?.schema).toEqual({
      $ref: "#/components/schemas/MiniSaved",
    });
    expect(MiniSaved).toEqual({
      type: "object",
      properties: {
        widget: { $ref: "#/components/schemas/MiniWidget" },
        // A transform's output is documented by what it transforms.
        label: { type: ["string", "number"] },
        warnings: { type: "array", items: { type: "string" } },
      },
      required: ["widget", "label", "warnings"],
    });
  });

  it("answers without content, and the shared classic error answers, beside the mini ones", () => {
    expect(put.responses["204"]).toEqual({ description: "nothing to save" });
    expect(put.responses["404"]).toEqual({
      description: "not found",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    });
    expect(doc.components.schemas.Error?.required).toEqual(["error"]);
    expect(Object.keys(doc.components.schemas).sort()).toEqual([
      "Error",
      "MiniSaved",
      "MiniWidget",
      "MiniWidgetInput",
    ]);
  });

  it("refuses two schemas under one id rather than documenting one of them", () => {
    const Twin = z.object({ other: z.string() }).check(z.meta({ id: "MiniTwin" }));
    const Twin2 = z.object({ another: z.string() }).check(z.meta({ id: "MiniTwin" }));
    const twins: DocRoute = {
      method: "get",
      path: "/api/twins",
      responses: (d) => ({ 200: d.json(z.object({ a: Twin, b: Twin2 }), "both") }),
    };
    expect(() => openApiDocument([twins])).toThrow(/MiniTwin/);
  });
});
