import * as z from "zod/mini";
import { schema } from "./schema.js";

/**
 * A pipeline's schedule: a five-field cron (minute granularity, the reconciler's tick) read in `timezone` (UTC
 * when omitted), building the head of `branch`. croner checks the cron (cron.ts), imported when a schedule is
 * met, so the check is asynchronous: a pipeline is parsed with `parseAsync`/`safeParseAsync` (a synchronous
 * parse of one with schedules throws). Every pipeline, from the API or a repository, is validated alike.
 */
export const Schedule = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      cron: z.string().check(z.minLength(1), z.maxLength(128)),
      branch: z.string().check(z.minLength(1), z.maxLength(256)),
      timezone: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
    })
    .check(
      z.superRefine(async (schedule, ctx) => {
        const tzProblem = schedule.timezone === undefined ? undefined : timezoneProblem(schedule.timezone);
        if (tzProblem) ctx.addIssue({ code: "custom", path: ["timezone"], message: tzProblem });
        const problem = (await import("./cron.js")).cronProblem(schedule.cron);
        if (problem) ctx.addIssue({ code: "custom", path: ["cron"], message: problem });
      }),
    ),
);
export type Schedule = z.infer<typeof Schedule>;

function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
    return undefined;
  } catch {
    return `unknown time zone "${timezone}" (an IANA name such as Asia/Shanghai or Europe/Berlin)`;
  }
}
