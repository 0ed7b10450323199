import * as z from "zod";

/**
 * Zod compiles an object schema's parser (`new Function`) on its first parse, which pays off over many parses of
 * one shape; a function parses each shape a handful of times per start, and on a cold start the compiling cost
 * more than it saved (configuration and a pipeline: about 2-5 ms more CPU each, issue 20). Every bundle that
 * builds a schema loads this module first, so this holds before any parse.
 */
z.config({ jitless: true });

/**
 * Defines a schema at module start, in a form a bundler may drop where nothing uses it, built on its first use.
 * Every function bundles core/model, and building its zod schemas is a good part of a cold start (issue 20),
 * while a function's main route uses a few or none (the webhook parses no pipeline, the callback no run).
 *
 * - Dropped: esbuild removes an unused call marked pure only when its arguments have no side effects: a
 *   schema's own arguments (`z.string()`, …) do, a function that builds it does not. So each schema is written
 *   `/* @__PURE__ *\/ schema(() => z.…)`.
 * - Built on first use: what this returns stands for the schema and builds it on the first look at it (a
 *   method, a property, `instanceof`), then forwards everything to it. A schema built from another builds that
 *   one then; zod keeps the stand-in where it was given and only ever reads through it.
 */
export function schema<T extends object>(build: () => T): T {
  let built: T | undefined;
  const real = (): T => {
    built ??= build();
    return built;
  };
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(real(), key, real()),
    set: (_, key, value) => Reflect.set(real(), key, value, real()),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    // Reported configurable, as a proxy must for a property its own (empty) target lacks.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(real(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
}
