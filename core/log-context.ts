import type { Logger } from "./ports.js";

/** What a log line is about: the run, task and attempt, the delivery, the message; whatever applies. */
export type LogFields = Record<string, unknown>;

/**
 * `log` with `fields` on every line it writes (a line's own fields win; children of children add up): the logger
 * handed down to the code that handles one message, request or effect, so that each of a batch's runs, handled
 * side by side, keeps its own fields. Carried by hand rather than by AsyncLocalStorage, whose promise hooks cost
 * every function's start (docs/decisions.md §5).
 */
export function withFields(log: Logger, fields: LogFields): Logger {
  return {
    info: (message, own) => log.info(message, { ...fields, ...own }),
    warn: (message, own) => log.warn(message, { ...fields, ...own }),
    error: (message, own) => log.error(message, { ...fields, ...own }),
    ...(log.debug && { debug: (message, own) => log.debug?.(message, { ...fields, ...own }) }),
  };
}
