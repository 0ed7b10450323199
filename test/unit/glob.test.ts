import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { pipelineMatches } from "../../core/engine/index.js";
import { compileGlob, compileGlobList, LIMITS, type MatchWork, matchGlobs } from "../../core/model/index.js";
import { parsePipeline } from "../../core/model/parse.js";
import { pipeline, trigger } from "../helpers/factories.js";

const compile = (pattern: string) => {
  const result = compileGlob(pattern);
  if (!result.ok) throw new Error(result.problem);
  return result.glob;
};
const matches = (pattern: string, value: string) => matchGlobs([compile(pattern)], value);

describe("globs match as the picomatch globs they replace", () => {
  const patterns = [
    "main",
    "release/*",
    "release/**",
    "v*",
    "v[0-9]*",
    "feature/?",
    "src/**",
    "src/**/*.ts",
    "**/*.ts",
    "**",
    "*",
    "a/**/b",
    "{main,develop}",
    "release/{v1,v2}/*",
    "{src,lib}/**",
    "!main",
    "*.md",
    ".github/**",
    "docs/*.{md,txt}",
    "a\\*b",
    "hotfix-*-*",
  ];
  const names = [
    "main",
    "develop",
    "release/1.0",
    "release/1.0/x",
    "release",
    "v1.2.3",
    "vx",
    "feature/a",
    "feature/ab",
    "src",
    "src/a.ts",
    "src/a/b/c.ts",
    "a.ts",
    "x/y.ts",
    "a/b",
    "a/x/y/b",
    "a/xb",
    "release/v1/x",
    "lib/z",
    "README.md",
    "docs/a.md",
    "docs/a.txt",
    ".github/workflows/ci.yml",
    "a*b",
    "axb",
    "hotfix-1-2",
  ];
  it.each(patterns)("%s", (pattern) => {
    for (const name of names)
      expect([name, matches(pattern, name)]).toEqual([name, picomatch.isMatch(name, pattern, { dot: true })]);
  });
});

describe("where they differ from picomatch", () => {
  it("`[!…]` negates a class, as in POSIX and git (picomatch reads the `!` as a character)", () => {
    expect(matches("v[!0-9]*", "v1.2.3")).toBe(false);
    expect(matches("v[!0-9]*", "vx")).toBe(true);
  });
});

describe("globs are bounded", () => {
  it.each([
    ["@(feat|fix)-*", /parentheses/],
    ["v{1..3}", /ranges/],
    ["release/[0-9", /unbalanced "\[\]"/],
    ["v{1,2", /unbalanced "{}"/],
    ["a]", /unbalanced/],
    ["*a*b*c*d*e*f*g*h*i", /9 wildcards; a pattern has at most 8/],
    ["x".repeat(LIMITS.globLength + 1), /longer than 128/],
    ["{a,b}{c,d}{e,f}{g,h}{i,j}", /more than 16 alternatives/],
  ])("refuses %s", (pattern, why) => {
    const result = compileGlob(pattern);
    expect(result.ok ? "compiled" : result.problem).toMatch(why);
  });

  it("refuses, with the path, a pattern or a list over a limit at apply", async () => {
    const withBranches = (branches: string[]) =>
      parsePipeline({
        name: "p",
        triggers: [{ provider: "github", repository: "a/b", branches }],
        stages: [{ name: "s", tasks: [{ name: "t", run: { image: "a", command: ["true"] } }] }],
      });
    expect(await withBranches(["main", "*a*b*c*d*e*f*g*h*i"])).toMatchObject({
      ok: false,
      issues: [{ path: "triggers[0].branches[1]", message: expect.stringMatching(/wildcards/) }],
    });
    expect(await withBranches(Array.from({ length: 33 }, (_, i) => `b${i}`))).toMatchObject({
      ok: false,
      issues: [{ path: "triggers[0].branches", message: expect.stringMatching(/at most 32/) }],
    });
    const long = Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(100, "x"));
    expect(await withBranches(long)).toMatchObject({
      ok: false,
      issues: [{ path: "triggers[0].branches", message: expect.stringMatching(/matching states/) }],
    });
  });

  it("match the attack that took 1.7 s with work linear in the name: at most its length × the states", () => {
    const attack = compile("*a*a*a*a*a*a*a*b");
    const name = "a".repeat(44);
    const work: MatchWork = { steps: 0 };
    expect(matchGlobs([attack], name, work)).toBe(false);
    expect(work.steps).toBeLessThanOrEqual(name.length * attack.states);
  });

  it("bound the work of the worst list against the longest name every delivery may carry", () => {
    // A list near its limit of states, of patterns whose stars stay live along the whole name.
    const pattern = "*?*?*?*?".padEnd(60, "?").replaceAll("?", "a");
    const list = compileGlobList(Array.from({ length: 32 }, () => pattern).slice(0, 8));
    if (!list.ok) throw new Error(list.problem);
    const states = list.globs.reduce((sum, g) => sum + g.states, 0);
    expect(states).toBeLessThanOrEqual(LIMITS.globStatesPerList);
    const work: MatchWork = { steps: 0 };
    matchGlobs(list.globs, "a".repeat(LIMITS.refNameLength), work);
    expect(work.steps).toBeLessThanOrEqual(LIMITS.refNameLength * LIMITS.globStatesPerList);
    // 255 × 512: the bound of one list for one name, known before any delivery arrives.
    expect(LIMITS.refNameLength * LIMITS.globStatesPerList).toBe(130_560);
  });

  it("never match a branch or tag over the length limit, and treat an over-long file list as unknown", () => {
    const p = pipeline({
      triggers: [{ provider: "github", repository: "acme/web-app", branches: ["*"], paths: ["src/**"] }],
    });
    expect(
      pipelineMatches(p, trigger({ branch: "b".repeat(LIMITS.refNameLength), changedFiles: ["src/a"] })),
    ).toBe(true);
    expect(pipelineMatches(p, trigger({ branch: "b".repeat(LIMITS.refNameLength + 1) }))).toBe(false);
    expect(pipelineMatches(p, trigger({ changedFiles: ["docs/a"] }))).toBe(false);
    const many = Array.from({ length: LIMITS.changedFiles + 1 }, (_, i) => `docs/${i}`);
    expect(pipelineMatches(p, trigger({ changedFiles: many }))).toBe(true);
    expect(pipelineMatches(p, trigger({ changedFiles: ["d".repeat(LIMITS.changedPathLength + 1)] }))).toBe(
      true,
    );
  });
});
