import { Cron } from "croner";
import * as z from "zod/mini";
import { schema } from "./schema.js";

/**
 * A pipeline's schedule: a five-field cron (minute granularity, the reconciler's tick) read in `timezone` (UTC
 * when omitted), building the head of `branch`. croner parses it: the one cron dependency, pure (no I/O, no
 * clock), so the model may use it and every pipeline, from the API or a repository, is validated alike.
 */
export const Schedule = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      cron: z.string().check(z.minLength(1), z.maxLength(128)),
      branch: z.string().check(z.minLength(1), z.maxLength(256)),
      timezone: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
    })
    .check(
      z.superRefine((schedule, ctx) => {
        const tzProblem = schedule.timezone === undefined ? undefined : timezoneProblem(schedule.timezone);
        if (tzProblem) ctx.addIssue({ code: "custom", path: ["timezone"], message: tzProblem });
        const problem = cronProblem(schedule.cron);
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

function cronProblem(cron: string): string | undefined {
  const nickname = cron.trim().startsWith("@");
  if (!nickname && cron.trim().split(/\s+/).length !== 5)
    return `"${cron}" is not a cron of five fields (minute hour day-of-month month day-of-week)`;
  try {
    new Cron(cron, { paused: true });
    return undefined;
  } catch (error) {
    return `invalid cron "${cron}": ${error instanceof Error ? error.message.replace(/^CronPattern: /, "") : error}`;
  }
}

const MINUTE_MS = 60_000;

/**
 * The latest minute at or before `now` at which the schedule was due, if it is after `since` (both ISO times).
 * A tick that finds the minute it runs in gives that minute; one after an outage gives the latest minute missed,
 * once: the earlier missed minutes are not owed separately.
 */
export function latestDueMinute(schedule: Schedule, now: string, since: string): string | undefined {
  const cron = new Cron(schedule.cron, {
    paused: true,
    ...(schedule.timezone && { timezone: schedule.timezone }),
  });
  // +1 ms: a tick at exactly hh:mm:00.000 counts its own minute.
  const [due] = cron.previousRuns(1, new Date(Date.parse(now) + 1));
  if (!due) return undefined;
  const minute = Math.floor(due.getTime() / MINUTE_MS) * MINUTE_MS;
  return minute > Date.parse(since) ? new Date(minute).toISOString() : undefined;
}
