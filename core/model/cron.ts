import { Cron } from "croner";
import type { Schedule } from "./schedule.js";

/**
 * croner, the one cron dependency (33 KB): loaded only where a schedule is checked (`Schedule`'s refinement
 * imports this module when it meets one, so a pipeline is parsed with `parseAsync`) or evaluated (the
 * reconciler's schedules), never at a function's start. Pure: no I/O, no clock.
 */

/** Why `cron` is not a valid schedule's cron, or undefined: the one rule, croner's. */
export function cronProblem(cron: string): string | undefined {
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
