import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

/**
 * zod/mini, not classic zod, everywhere a function runs (issue 20): the same core, parse behaviour and issues, but
 * a schema is built without attaching classic's dozens of methods to it, and what a bundle does not call is left
 * out (classic is about 103 KB at every start). Two settings, global to zod, are made here; every module whose
 * schemas' issues reach anyone loads this one (it builds them with `schema` below, or imports core/model), so they
 * hold before any parse (the run cursor's check, core/adapters/dynamo/cursor.ts, shows none of zod's words):
 *
 * - English messages: classic installs its `en` locale when it builds its first schema; mini installs none, and
 *   every message would read "Invalid input". The messages are the same as classic's, which users and tests read.
 * - No compiled parsers (`jitless`): zod compiles a classic object schema's parser (`new Function`) on its first
 *   parse, which pays off over many parses of one shape; a function parses each shape a handful of times per start,
 *   and compiling cost more than it saved (configuration and a pipeline: about 2-5 ms more CPU each). mini's objects
 *   do not compile; the setting keeps it so for a classic schema anything may still build.
 */
z.config({ ...en(), jitless: true });

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
