import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ValidationError } from "../../core/errors.js";
import { lazyHandler } from "../../core/wiring.js";

/** A promise and the functions that settle it, to decide when a start's unfinished part ends. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("a Lambda handler whose start finishes during its first invocation", () => {
  // What every function's start needs (its clients are built, never used here).
  beforeEach(() => {
    vi.stubEnv("HOOKFLOW_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("runs the handler before that part of the start ends, and answers once it has", async () => {
    const rest = deferred<void>();
    const seen: string[] = [];
    const handler = lazyHandler({}, (_base, finishing) => {
      finishing(rest.promise.then(() => seen.push("start finished")));
      return async (n: number) => {
        seen.push(`handled ${n}`);
        return n * 2;
      };
    });
    const answer = handler(21);
    await expect.poll(() => seen).toEqual(["handled 21"]);
    rest.resolve();
    await expect(answer).resolves.toBe(42);
    expect(seen).toEqual(["handled 21", "start finished"]);
    await expect(handler(1)).resolves.toBe(2);
  });

  it("fails as the start does when that part fails, once the handler has settled, and starts again next time", async () => {
    let builds = 0;
    let handled = 0;
    let failing = true;
    const handler = lazyHandler({}, (_base, finishing) => {
      builds += 1;
      finishing(
        failing
          ? Promise.reject(
              new ValidationError("invalid configuration", [
                { path: "HOOKFLOW_KUBECONFIG", message: "names no cluster with a server" },
              ]),
            )
          : Promise.resolve(),
      );
      return async () => {
        handled += 1;
        return "answered";
      };
    });
    const failure = await handler().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    // The whole explanation in the message, as Lambda logs a start's failure.
    expect((failure as Error).message).toMatch(/^HOOKFLOW_KUBECONFIG: names no cluster with a server/m);
    expect(handled).toBe(1);
    failing = false;
    await expect(handler()).resolves.toBe("answered");
    expect(builds).toBe(2);
    await expect(handler()).resolves.toBe("answered");
    expect(builds).toBe(2);
  });

  it("answers with the handler's own failure when the start finished well", async () => {
    const handler = lazyHandler({}, (_base, finishing) => {
      finishing(Promise.resolve());
      return async () => {
        throw new Error("the handler's own");
      };
    });
    await expect(handler()).rejects.toThrow("the handler's own");
  });
});
