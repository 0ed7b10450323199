import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkPipelineJobs, type JobTemplate } from "../../core/model/index.js";
import { parseJobTemplate, parsePipeline } from "../../core/model/parse.js";

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
const yamlIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join(dir, f));

describe("every example", () => {
  const jobs = new Map<string, JobTemplate>();

  it.each(yamlIn(join(EXAMPLES, "jobs")))("job template %s is valid, with no warning", async (file) => {
    const result = await parseJobTemplate(readFileSync(file, "utf8"));
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (!result.ok) return;
    expect(result.warnings).toEqual([]);
    jobs.set(result.value.name, result.value);
  });

  it.each(yamlIn(EXAMPLES))(
    "pipeline %s is valid against the example job templates, with no warning",
    async (file) => {
      const result = await parsePipeline(readFileSync(file, "utf8"));
      expect(result.ok ? [] : result.issues).toEqual([]);
      if (!result.ok) return;
      expect(checkPipelineJobs(result.value, jobs)).toEqual({ issues: [], warnings: [] });
    },
  );
});
