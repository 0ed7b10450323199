/**
 * definitions: the worst inputs for parsing and matching, timed (the tests prove the bounds by counting work;
 * this shows what the bounds cost here). Compared with what they replaced: the yaml library's own duplicate-key
 * check and picomatch's regular expressions. `node --import tsx bench/definitions.ts`
 */
import picomatch from "picomatch";
import { parseDocument } from "yaml";
import { compileGlobList, LIMITS, type MatchWork, matchGlobs } from "../core/model/index.js";
import { parseText, uniqueKeysIn, YAML_OPTIONS } from "../core/model/parse.js";

function best(run: () => void, rounds = 5): number {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return fastest;
}
const ms = (n: number) => `${n.toFixed(2)} ms`;

// Duplicate keys: the largest text parseText accepts, as many keys as fit.
const keys = Math.floor(LIMITS.definitionTextBytes / 9);
const text = `${Array.from({ length: keys }, (_, i) => `k${i}: 1`).join("\n")}\n`.slice(
  0,
  LIMITS.definitionTextBytes,
);
const ours = best(() => parseText(text));
const pairwise = best(() => parseDocument(text, { ...YAML_OPTIONS, uniqueKeys: true }), 1);
const { lookups } = uniqueKeysIn(parseDocument(text, YAML_OPTIONS));
console.log(
  `parse ${keys} keys (64 KB): ${ms(ours)} (${lookups} set lookups); yaml's pairwise check: ${ms(pairwise)}`,
);

// Globs: a list at its limits against the longest branch, and against the most paths a push may list.
const pattern = "*a*a*a*a*a*a*a*b".padEnd(64, "a");
const list = compileGlobList(Array.from({ length: 7 }, () => pattern));
if (!list.ok) throw new Error(list.problem);
const states = list.globs.reduce((sum, g) => sum + g.states, 0);
const branch = "a".repeat(LIMITS.refNameLength);
const work: MatchWork = { steps: 0 };
matchGlobs(list.globs, branch, work);
console.log(
  `glob list (${states} states) vs a ${branch.length}-character branch: ${ms(best(() => matchGlobs(list.globs, branch)))} (${work.steps} steps)`,
);
const files = Array.from({ length: 500 }, (_, i) => `${"a".repeat(60)}${i}`);
console.log(
  `same list vs ${files.length} paths (${files.join("").length} bytes): ${ms(best(() => files.some((f) => matchGlobs(list.globs, f))))}`,
);
const attack = "*a*a*a*a*a*a*a*b";
const compiledAttack = compileGlobList([attack]);
if (!compiledAttack.ok) throw new Error(compiledAttack.problem);
const name = "a".repeat(44);
console.log(
  `the reported attack (${attack} vs 44 characters): ours ${ms(best(() => matchGlobs(compiledAttack.globs, name)))}, picomatch ${ms(best(() => picomatch.isMatch(name, attack, { dot: true }), 1))}`,
);
