/**
 * Defines a schema at module start, in a form a bundler may drop where nothing uses it. Every function bundles
 * core/model, and building all of its zod schemas is a good part of a cold start (issue 20), while most
 * functions use a few. esbuild removes an unused call marked pure only when its arguments have no side effects:
 * a schema's own arguments (`z.string()`, …) do, a function that builds it does not. So each schema is written
 * `/* @__PURE__ *\/ schema(() => z.…)`: built at once where it is kept, gone from bundles that never use it.
 */
export const schema = <T>(build: () => T): T => build();
