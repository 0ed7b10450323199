import { describe, expect, it } from "vitest";
import { formatIssue, splitFile } from "../../core/cli/documents.js";

describe("reading definitions for apply", () => {
  const text = [
    "# first",
    "name: build",
    "template: { apiVersion: batch/v1 }",
    "---",
    "name: web",
    "stages:",
    "  - name: a",
    "    tasks: [{ name: x }]",
    "---",
    "just: a map",
    "---",
    "name: [unclosed",
  ].join("\n");

  it("splits documents, keeps their text, and places the API's paths and lines in the file", async () => {
    const { definitions, problems } = await splitFile("defs.yaml", text);
    expect(definitions.map((d) => [d.kind, d.name, d.firstLine])).toEqual([
      ["job", "build", 2],
      ["pipeline", "web", 4],
    ]);
    const web = definitions[1]!;
    expect(web.text).toBe("---\nname: web\nstages:\n  - name: a\n    tasks: [{ name: x }]\n");
    expect(formatIssue(web, { path: "stages[0].tasks[0]", message: "bad task" })).toBe(
      "defs.yaml:8: stages[0].tasks[0]: bad task",
    );
    // A missing field points at its parent; the API's own line counts within the document.
    expect(formatIssue(web, { path: "stages[0].tasks[0].run", message: "m" })).toBe(
      "defs.yaml:8: stages[0].tasks[0].run: m",
    );
    expect(formatIssue(web, { path: "name", message: "m", line: 2 })).toBe("defs.yaml:5: name: m");
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^defs\.yaml:10: neither a pipeline/);
    expect(problems[1]).toMatch(/^defs\.yaml:12: YAML syntax error/);
  });
});
