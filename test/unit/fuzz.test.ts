import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJobTemplate, parsePipeline } from "../../core/model/parse.js";
import { mutatedPipeline } from "../helpers/arbitraries.js";

describe("fuzzing", () => {
  it("the pipeline and job template parsers: any text or value gives a result or issues with paths, never a throw", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json(), mutatedPipeline, fc.anything()), async (input) => {
        for (const parse of [parsePipeline, parseJobTemplate]) {
          const result = await parse(input);
          if (!result.ok) {
            expect(result.issues.length).toBeGreaterThan(0);
            for (const issue of result.issues) expect(issue.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});
