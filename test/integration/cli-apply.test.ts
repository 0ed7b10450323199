import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Pipeline } from "../../core/model/index.js";
import { CLI_FIXTURES, cliStack, lines } from "../helpers/cli.js";

describe("hookflow apply", () => {
  it("applies a directory, job templates first: created, then updated, with warnings at their lines", async () => {
    const { cli } = await cliStack();
    const first = await cli(["apply", "-f", `${CLI_FIXTURES}/apply`]);
    expect(first).toMatchObject({ code: 0 });
    expect(lines(first.stdout)).toEqual([
      "job/greet created",
      "pipeline/hello created",
      "pipeline/doomed created",
    ]);
    expect(first.stderr).toBe(
      `warning: ${CLI_FIXTURES}/apply/pipelines.yaml:13: stages[1].tasks[0].params: required param WHO of job ` +
        `"greet" is not set here; the run must provide it\n`,
    );
    const second = await cli([
      "apply",
      "-f",
      `${CLI_FIXTURES}/apply/pipelines.yaml`,
      "-f",
      `${CLI_FIXTURES}/apply`,
    ]);
    expect(second.code).toBe(0);
    expect(lines(second.stdout)).toEqual([
      "job/greet updated",
      "pipeline/hello updated",
      "pipeline/doomed updated",
      "pipeline/hello updated",
      "pipeline/doomed updated",
    ]);
  });

  it("refuses an invalid document with file:line: path: message and exit 1, applying the valid ones", async () => {
    const { cli, system } = await cliStack();
    const res = await cli(["apply", "-f", `${CLI_FIXTURES}/invalid.yaml`]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("job/noop created\n");
    const file = `${CLI_FIXTURES}/invalid.yaml`;
    expect(lines(res.stderr)).toEqual([
      "error: pipeline/broken: pipeline broken is invalid",
      expect.stringMatching(new RegExp(`^${file}:14: stages\\[0\\]\\.tasks\\[0\\]\\.retries: `)),
      `${file}:15: stages[0].tasks[1]: a task has exactly one of \`run\` or \`job\``,
    ]);
    expect(await system.stores.definitions.getPipeline("broken")).toBeUndefined();

    const dir = mkdtempSync(join(tmpdir(), "hookflow-cli-bad-"));
    try {
      writeFileSync(join(dir, "a.yaml"), "name: fine\ntemplate: {}\n---\nname: x\nstages: [\n");
      const local = await cli(["apply", "-f", dir]);
      expect(local.code).toBe(1);
      expect(local.stdout).toBe("");
      expect(local.stderr).toMatch(new RegExp(`^${dir}/a\\.yaml:5: YAML syntax error`));
      expect(local.stderr).toContain("error: nothing applied");
      expect(await system.stores.definitions.getJob("fine")).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await cli(["apply", "-f", "no/such/dir"])).toMatchObject({
      code: 1,
      stderr: "error: no/such/dir: no such file or directory\n",
    });
    expect((await cli(["apply"])).code).toBe(2);
  });
});

describe("hookflow pipelines", () => {
  it("lists pipelines as a table, or as JSON", async () => {
    const { cli, applyFixtures } = await cliStack();
    await applyFixtures();
    const res = await cli(["pipelines"]);
    expect(res.code).toBe(0);
    const table = lines(res.stdout);
    expect(table[0]).toMatch(/^NAME\s+TRIGGERS\s+STAGES\s+TASKS$/);
    expect(table).toContainEqual(expect.stringMatching(/^hello\s+github:acme\/hello push \(main\)\s+2\s+3$/));
    expect(table).toContainEqual(expect.stringMatching(/^doomed\s+manual only\s+2\s+2$/));
    const json = JSON.parse((await cli(["pipelines", "--json"])).stdout) as { items: Pipeline[] };
    expect(json.items.map((p) => p.name).sort()).toEqual(["doomed", "hello"]);
  });
});
