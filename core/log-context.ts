import { AsyncLocalStorage } from "node:async_hooks";

/** What a log line is about: the run, task and attempt, the delivery, the message; whatever applies. */
export type LogFields = Record<string, unknown>;

const context = new AsyncLocalStorage<LogFields>();

/**
 * Runs `work` with `fields` added to every line logged while it runs, by any code it calls, awaited work
 * included (AsyncLocalStorage: a batch's runs are handled side by side, so a process-wide "current run" would
 * mix them). Nested calls add to the fields around them.
 */
export function withLogContext<T>(fields: LogFields, work: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, work);
}

/** The fields of the innermost `withLogContext` around the caller ({} outside any). */
export function logContext(): LogFields {
  return context.getStore() ?? {};
}
