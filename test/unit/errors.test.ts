import { describe, expect, it } from "vitest";
import { KubernetesRejection } from "../../core/adapters/kubernetes/index.js";
import { CliError, UnreachableError } from "../../core/cli/client.js";
import * as errors from "../../core/errors.js";

describe("error names", () => {
  // A minifier renames classes: the name a log shows must be spelled out by each class, not taken from it.
  type ErrorClass = new (message: string, ...rest: never[]) => Error;
  const classes = [
    ...(Object.values(errors) as unknown[]).filter(
      (value): value is ErrorClass => typeof value === "function" && value.prototype instanceof Error,
    ),
    KubernetesRejection,
    CliError,
    UnreachableError,
  ] as ErrorClass[];

  it.each(classes.map((c) => [c.name, c] as const))("%s names itself", (name, ErrorClass) => {
    const error = new ErrorClass("m");
    expect(error.name).toBe(name);
    expect(Object.hasOwn(error, "name"), "an own property, not the class's").toBe(true);
  });

  it("covers every class core/errors.ts exports", () => {
    expect(classes.length).toBe(Object.keys(errors).length + 3);
  });
});
