import fc from "fast-check";
import { runTask } from "./factories.js";

/** A value shaped like a pipeline, with any part replaced by anything. */
export const mutatedPipeline = fc
  .tuple(
    fc.constantFrom(
      "name",
      "triggers",
      "stages",
      "params",
      "notify",
      "concurrency",
      "stages.0.tasks",
      "stages.0.tasks.0.run",
    ),
    fc.anything(),
  )
  .map(([path, value]) => {
    const base = JSON.parse(
      JSON.stringify({
        name: "p",
        triggers: [{ provider: "github", repository: "a/b" }],
        stages: [{ name: "s", tasks: [runTask("t")] }],
      }),
    );
    let target = base;
    const keys = path.split(".");
    for (const key of keys.slice(0, -1)) target = target[key];
    target[keys.at(-1) as string] = value;
    return base;
  });
