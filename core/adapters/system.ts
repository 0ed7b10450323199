import { randomBytes } from "node:crypto";
import type { Clock, IdSource, Logger } from "../ports.js";

export const systemClock: Clock = { now: () => new Date().toISOString() };

/**
 * Run ids: 10 base-36 characters of milliseconds since the epoch (sortable until the year 5188) followed by 10
 * random ones; lowercase letters and digits, so they fit job names, labels and URLs as they are.
 */
export const randomIds: IdSource = {
  runId: () => {
    const time = Date.now().toString(36).padStart(10, "0");
    const random = [...randomBytes(10)].map((b) => (b % 36).toString(36)).join("");
    return time + random;
  },
};

/** One JSON object per line, the format CloudWatch and `npm start` both read well. */
export function jsonLogger(
  base: Record<string, unknown> = {},
  write: (line: string) => void = (l) => console.log(l),
): Logger {
  const emit = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ level, time: new Date().toISOString(), message, ...base, ...fields }));
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
