import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions<T> {
  /** What is awaited, in words: the error says it ("timed out after 15s waiting for <what>"). */
  what: string | (() => string);
  /** Generous on purpose: a wait returns as soon as its condition holds, so a long limit costs nothing. */
  timeoutMs?: number;
  /** Without it, any truthy value ends the wait. */
  until?: (value: T) => boolean;
  /** Between probes; the probe itself may do work (poll a queue, read a file). */
  everyMs?: number;
}

/**
 * The one poller of the test suite: probes until the condition holds and returns the value that met it, or fails
 * saying what was awaited and what was last seen. Tests wait on conditions with it, never on sleeps.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const met = options.until ?? ((value: T) => Boolean(value));
  const giveUpAt = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (met(value)) return value;
    if (performance.now() > giveUpAt) {
      const what = typeof options.what === "function" ? options.what() : options.what;
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what}; last seen: ${describe(value)}`,
      );
    }
    await sleep(options.everyMs ?? 20);
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}
