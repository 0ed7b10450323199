import { randomBytes } from "node:crypto";
import { MASK, maskText } from "../engine/view.js";
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

/**
 * A line's level: `debug` (a routine decision, written only when asked for), `info` (what happened), `warn`
 * (something will be retried or was skipped), `error`.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Field names whose values are credentials, whatever they hold: shown as the mask, never as they are (an `…Id`
 * names one, as `tokenId` does, and is kept). Values elsewhere are searched for the deployment's secrets
 * (`secrets`), as every answer and notification is.
 */
const SECRET_FIELD = /token|secret|password|authorization|cookie|kubeconfig|credential/i;
const isSecretField = (name: string) => SECRET_FIELD.test(name) && !/Id$/.test(name);

/**
 * The one logger seam: every line loses every secret, then `emit` writes it. The fields of the work a line is
 * about (run, task, attempt, …) come with the line, from the caller or the logger it was handed
 * (`withFields`). `secrets`: the values to mask wherever they appear (the deployment's webhook secrets, tokens
 * and keys: `configuredSecrets`).
 */
export function maskingLogger(
  emit: (level: LogLevel, message: string, fields: Record<string, unknown>) => void,
  secrets: readonly string[] = [],
): Logger {
  const clean = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return maskText(value, secrets);
    if (depth > 8 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1));
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretField(k) ? MASK : clean(v, depth + 1)]),
    );
  };
  const line = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) =>
    emit(level, maskText(message, secrets), clean(fields ?? {}, 0) as Record<string, unknown>);
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

/** One JSON object per line, the format CloudWatch and `npm start` both read well. */
export function jsonLogger(
  base: Record<string, unknown> = {},
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  secrets: readonly string[] = [],
  debug = false,
): Logger {
  return maskingLogger((level, message, fields) => {
    if (level === "debug" && !debug) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), message, ...base, ...fields }));
  }, secrets);
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
