import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const MODEL = join(import.meta.dirname, "../../core/model");

/**
 * Top-level constants of a model file whose value is built by calls on zod (`z.…`) or on another schema
 * (`Run.extend(…)`), written otherwise than `/* @__PURE__ *\/ schema(() => …)`.
 */
function unwrappedSchemas(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      let root: ts.Expression | undefined = declaration.initializer;
      if (!root || !ts.isCallExpression(root)) continue;
      const isWrapped =
        ts.isIdentifier(root.expression) &&
        root.expression.text === "schema" &&
        /@__PURE__/.test(declaration.initializer?.getFullText(source) ?? "");
      if (isWrapped) continue;
      while (ts.isCallExpression(root) || ts.isPropertyAccessExpression(root)) root = root.expression;
      if (ts.isIdentifier(root) && (root.text === "z" || /^[A-Z][A-Za-z0-9]*$/.test(root.text)))
        found.push(declaration.name.getText(source));
    }
  }
  return found;
}

describe("core/model's schemas", () => {
  // Built at start in every bundle that keeps them, and dropped by esbuild only when so wrapped (schema.ts):
  // the callback, webhook and queue functions use few of them (issue 20, cold start).
  it.each(readdirSync(MODEL).filter((f) => f.endsWith(".ts")))(
    "%s builds each top-level schema with /* @__PURE__ */ schema(() => …)",
    (file) => {
      expect(unwrappedSchemas(join(MODEL, file))).toEqual([]);
    },
  );

  // The API's request schemas, likewise: a cold start builds only those its first request reads.
  it("functions/api-schemas.ts builds each top-level schema with /* @__PURE__ */ schema(() => …)", () => {
    expect(unwrappedSchemas(join(import.meta.dirname, "../../functions/api-schemas.ts"))).toEqual([]);
  });

  it("finds a schema that is not wrapped", () => {
    const file = join(import.meta.dirname, "../fixtures/unwrapped-schema.ts.txt");
    expect(unwrappedSchemas(file)).toEqual(["Loose", "Derived"]);
  });
});

describe("zod's configuration", () => {
  it("parses without compiling parsers (jitless), which is cheaper on a cold start", async () => {
    const z = await import("zod/mini");
    await import("../../core/model/index.js");
    expect(z.config().jitless).toBe(true);
  });

  it("words its issues in English, as classic zod does (zod/mini installs no locale of its own)", async () => {
    const z = await import("zod/mini");
    const { Pipeline } = await import("../../core/model/index.js");
    expect(z.int().safeParse("1").error?.issues[0]?.message).toBe(
      "Invalid input: expected number, received string",
    );
    expect(Pipeline.safeParse({ name: "p" }).error?.issues).toEqual([
      expect.objectContaining({
        path: ["stages"],
        message: "Invalid input: expected array, received undefined",
      }),
    ]);
  });
});

describe("schema(): built on first use", () => {
  it("builds nothing until the schema is used, then once, and behaves as the schema it stands for", async () => {
    const z = await import("zod/mini");
    const { schema } = await import("../../core/model/schema.js");
    let builds = 0;
    const Name = schema(() => {
      builds++;
      return z.string().check(z.minLength(2));
    });
    const Named = schema(() => z.strictObject({ name: Name }));
    expect(builds).toBe(0);
    expect(Named.safeParse({ name: "x" }).error?.issues.map((i) => i.path)).toEqual([["name"]]);
    expect(Named.parse({ name: "ok" })).toEqual({ name: "ok" });
    expect(builds).toBe(1);
    expect(Name).toBeInstanceOf(z.ZodMiniString);
    expect(z.extend(Named, { n: z.number() }).parse({ name: "ab", n: 1 })).toEqual({ name: "ab", n: 1 });
    expect(z.globalRegistry.get(Name.check(z.describe("a name")))?.description).toBe("a name");
    expect(Object.keys(Named.shape)).toEqual(["name"]);
  });
});
