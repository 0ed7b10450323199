/**
 * cold-start: each function bundled as SST bundles it (esbuild, ESM, minified, split), then imported in fresh
 * node processes; the time from before `import()` to after it, measured inside the process. Against the floor:
 * a bare Hono hello-world bundle, and, to separate what the AWS SDK costs from what hookflow adds, Hono with
 * the DynamoDB and SQS clients. Processes run round-robin over all bundles so that machine noise spreads evenly.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Bundle, bundleEntry, bundleFunction } from "../infra/bundle.js";
import { FUNCTION_NAMES } from "../infra/functions.js";
import { percentile, table } from "./common.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const HTTP_FUNCTIONS = ["webhook", "callback", "api"];
const run = promisify(execFile);

async function importMs(entry: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(entry)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: "1" },
  });
  return Number(stdout.trim());
}

const outRoot = mkdtempSync(join(tmpdir(), "hookflow-cold-start-"));
try {
  const floors = join(import.meta.dirname, "floors");
  const bundles: Bundle[] = [
    await bundleEntry("hono hello (floor)", join(floors, "hono-hello.ts"), join(outRoot, "hello")),
    await bundleEntry("hono + sdk clients", join(floors, "hono-sdk.ts"), join(outRoot, "sdk")),
  ];
  for (const name of FUNCTION_NAMES) bundles.push(await bundleFunction(name, outRoot));

  const samples = new Map<string, number[]>(bundles.map((b) => [b.name, []]));
  for (let round = 0; round < ROUNDS; round++)
    for (const bundle of bundles) samples.get(bundle.name)?.push(await importMs(bundle.entry));

  for (const values of samples.values()) values.sort((a, b) => a - b);
  const p50 = (name: string) => percentile(samples.get(name) ?? [], 50);
  const hello = p50("hono hello (floor)");
  const sdk = p50("hono + sdk clients");
  console.log(`cold-start: ${ROUNDS} fresh node ${process.version} processes per bundle\n`);
  console.log(
    table(
      bundles.map((b) => {
        const sorted = samples.get(b.name) ?? [];
        return {
          bundle: b.name,
          "KB at start": Math.round(b.startupBytes / 1024),
          "KB in all": Math.round(b.totalBytes / 1024),
          "import p50 ms": percentile(sorted, 50),
          "import p90 ms": percentile(sorted, 90),
          "× hello": percentile(sorted, 50) / hello,
          "× hono+sdk": percentile(sorted, 50) / sdk,
        };
      }),
    ),
  );
  const slowestHttp = Math.max(...HTTP_FUNCTIONS.map(p50));
  console.log(`\ncold-start scheduler ratio: ${(p50("scheduler") / hello).toFixed(2)}`);
  console.log(`cold-start sdk-floor ratio: ${(slowestHttp / sdk).toFixed(2)}`);
  console.log(`cold-start ratio: ${(slowestHttp / hello).toFixed(2)}`);
} finally {
  rmSync(outRoot, { recursive: true, force: true });
}
