/**
 * Bundles each Lambda function the way SST does (esbuild with infra/functions.ts BUNDLING): CI proves every
 * handler bundles, bench/cold-start.ts measures them, test/integration/lambda.test.ts invokes them.
 *
 *   npm run bundle            → dist/functions/<name>/, and a table of sizes
 */
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import {
  BUNDLING,
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  handlerSource,
  notBundledFiles,
} from "./functions.js";

export interface Bundle {
  name: string;
  /** The file Lambda imports. */
  entry: string;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  startupBytes: number;
  /** Everything, including chunks imported only on first use. */
  totalBytes: number;
  /** The source modules a cold start loads (those of the chunks counted in `startupBytes`). */
  startupInputs: string[];
  /** Every source module of the bundle, whenever it is loaded. */
  inputs: string[];
  /**
   * The source modules loaded with a module imported on first use (`await import(source)`): its chunk's and those
   * its chunk imports statically. Empty when `source` is no such module of this bundle.
   */
  inputsLoadedWith: (source: string) => string[];
  /**
   * The files left out of the bundle (`external`) that its code still imports: code that could load them, which
   * must then be bundled. Empty when what was left out is never loaded.
   */
  leftOutButImported: string[];
}

const ROOT = join(import.meta.dirname, "..");

export async function bundleEntry(
  name: string,
  source: string,
  outdir: string,
  /** Source files left out (esbuild's `external`): infra/functions.ts `notBundled`. */
  external: string[] = [],
): Promise<Bundle> {
  const result = await build({
    entryPoints: { index: source },
    outdir,
    absWorkingDir: ROOT,
    bundle: true,
    ...BUNDLING,
    external,
    platform: "node",
    target: "node22",
    // SST's esbuild options for ESM (pkg/runtime/node/build.go): a package's ES module build before its
    // CommonJS one, which esbuild can tree-shake (the AWS SDK ships both).
    mainFields: ["module", "main"],
    metafile: true,
    outExtension: { ".js": ".mjs" },
    // Bundled CommonJS dependencies call require(): give ESM output one, as SST's own banner does.
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
    logLevel: "error",
  });
  const outputs = result.metafile.outputs;
  // The entry's own output: chunks of dynamic imports carry an `entryPoint` too (their module's).
  const entryPoint = relative(ROOT, source).split("\\").join("/");
  const entry = Object.keys(outputs).find((file) => outputs[file]?.entryPoint === entryPoint);
  if (!entry) throw new Error(`${name}: esbuild produced no entry`);

  /** The chunks a chunk loads with it: itself and those it imports statically, transitively. */
  const loadedWith = (chunk: string) => {
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const imported of outputs[file]?.imports ?? [])
        if (imported.kind === "import-statement" && !imported.external) visit(imported.path);
    };
    visit(chunk);
    return loaded;
  };
  const inputsOf = (chunks: Set<string>) =>
    [...chunks].flatMap((file) => Object.keys(outputs[file]?.inputs ?? {}));
  const startup = loadedWith(entry);
  const sum = (counted: (file: string) => boolean) =>
    Object.entries(outputs).reduce((total, [file, { bytes }]) => total + (counted(file) ? bytes : 0), 0);
  return {
    name,
    entry: join(ROOT, entry),
    startupBytes: sum((file) => startup.has(file)),
    totalBytes: sum(() => true),
    startupInputs: inputsOf(startup),
    inputs: Object.keys(result.metafile.inputs),
    leftOutButImported: external
      .map((file) => relative(ROOT, file).split("\\").join("/"))
      .filter((file) =>
        Object.values(outputs).some((output) =>
          output.imports.some((imported) => imported.external && imported.path.endsWith(file)),
        ),
      ),
    inputsLoadedWith: (module) => {
      const chunk = Object.keys(outputs).find((file) => outputs[file]?.entryPoint === module);
      return chunk ? inputsOf(loadedWith(chunk)) : [];
    },
  };
}

export function bundleFunction(name: FunctionName, outRoot = join(ROOT, "dist/functions")): Promise<Bundle> {
  const { file } = handlerSource(FUNCTIONS[name].handler);
  return bundleEntry(name, join(ROOT, file), join(outRoot, name), notBundledFiles(name, ROOT));
}

async function main(): Promise<void> {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  for (const name of FUNCTION_NAMES) {
    const bundle = await bundleFunction(name);
    console.log(
      `${name.padEnd(11)} ${kb(bundle.startupBytes).padStart(10)} at start, ${kb(bundle.totalBytes).padStart(10)} in all  ${relative(ROOT, bundle.entry)}`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
