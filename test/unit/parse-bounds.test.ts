import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { LIMITS } from "../../core/model/index.js";
import { parsePipeline, parseText, uniqueKeysIn, YAML_OPTIONS } from "../../core/model/parse.js";

const keys = (n: number, duplicateAtEnd = false) =>
  `${Array.from({ length: n }, (_, i) => `k${i}: 1`).join("\n")}${duplicateAtEnd ? "\nk0: 2" : ""}\n`;

describe("parsing is linear in the text", () => {
  it("never asks the yaml library for its pairwise duplicate-key check", () => {
    expect(YAML_OPTIONS.uniqueKeys).toBe(false);
  });

  it.each([1_000, 40_000])("finds duplicate keys with one set lookup per key (%i keys)", (n) => {
    const doc = parseDocument(keys(n, true), YAML_OPTIONS);
    const { errors, lookups } = uniqueKeysIn(doc);
    expect(lookups).toBe(n + 1);
    expect(errors).toHaveLength(1);
  });

  it("counts keys of nested and flow mappings alike", () => {
    const doc = parseDocument("a: {x: 1, y: 2, x: 3}\nb:\n  - {p: 1}\n  - p: 1\n    p: 2\n", YAML_OPTIONS);
    const { errors, lookups } = uniqueKeysIn(doc);
    expect(lookups).toBe(2 + 3 + 1 + 2);
    expect(errors).toHaveLength(2);
  });

  it("reports a duplicate key with its line, as before", () => {
    const parsed = parseText("name: a\nstages: []\nname: b\n");
    expect(parsed).toMatchObject({
      ok: false,
      issues: [{ message: "YAML syntax error: Map keys must be unique", line: 3, column: 1 }],
    });
  });

  it("keeps keys that differ in type apart (1 and '1'), as YAML does", () => {
    expect(parseText("1: a\n'1': b\n").ok).toBe(true);
  });

  it("refuses a text over the limit before parsing it", () => {
    // Unparsed, this is one long syntax error; refused by size, it never reaches the parser.
    const text = "[".repeat(LIMITS.definitionTextBytes + 1);
    expect(parseText(text)).toEqual({
      ok: false,
      issues: [{ path: "", message: expect.stringMatching(/larger than 65536 bytes/) }],
    });
    // Counted in bytes, not characters.
    const wide = `a: "${"é".repeat(LIMITS.definitionTextBytes / 2)}"`;
    expect(wide.length).toBeLessThan(LIMITS.definitionTextBytes);
    expect(parseText(wide).ok).toBe(false);
  });

  it("refuses nesting deeper than the limit, from a text or a JSON value", async () => {
    const deep = `${"[".repeat(LIMITS.definitionDepth + 1)}${"]".repeat(LIMITS.definitionDepth + 1)}`;
    expect(parseText(deep)).toMatchObject({ ok: false, issues: [{ message: /nested deeper than 64/ }] });
    let value: unknown = "x";
    for (let i = 0; i <= LIMITS.definitionDepth; i++) value = { a: value };
    expect(await parsePipeline(value)).toMatchObject({ ok: false, issues: [{ message: /nested deeper/ }] });
  });

  it("reports at most the first problems, and counts the others", async () => {
    const params = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`${i}bad`, "v"]));
    const result = await parsePipeline({ name: "p", params, stages: [{ name: "s", tasks: [] }] });
    if (result.ok) throw new Error("expected problems");
    expect(result.issues).toHaveLength(LIMITS.issuesReported + 1);
    expect(result.issues.at(-1)?.message).toMatch(/^and \d+ more problems$/);
  });
});
