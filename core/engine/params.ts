import type { JobParam } from "../model/index.js";

/**
 * Why `value` may not be given to `param`, if it may not: the one enum rule, checked when a person starts a run
 * (refused at once, with the field's path) and again when a task is rendered (whatever set the value).
 */
export function enumProblem(param: Pick<JobParam, "enum">, value: string): string | undefined {
  return param.enum && !param.enum.includes(value) ? `must be one of ${param.enum.join(", ")}` : undefined;
}
