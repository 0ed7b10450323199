import type { RunNotice } from "../../core/ports.js";

/** A failed run's notice with every field a message shows; override what a test is about. */
export function runNotice(overrides: Partial<RunNotice> = {}): RunNotice {
  return {
    event: "run.failed",
    pipeline: "web-app",
    runId: "01jd7k2m9qf3x8",
    status: "failed",
    trigger: {
      provider: "github",
      repository: "acme/web-app",
      ref: "refs/heads/main",
      branch: "main",
      commit: "9fceb02d0ae598e95dc970b74767f19372d61af8",
      message: "Fix the login redirect\n\nThe callback URL lost its query string.",
      author: "Alice Liddell",
    },
    durationSeconds: 192,
    failedTask: { name: "unit", message: "exit code 1: 3 tests failed" },
    url: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
    ...overrides,
  };
}

/** A notice asking for an approval. */
export function waitingNotice(overrides: Partial<RunNotice> = {}): RunNotice {
  return runNotice({
    event: "task.waiting",
    status: "waiting",
    failedTask: undefined,
    durationSeconds: 75,
    task: { name: "deploy", status: "waiting", approvers: ["alice", "bob"] },
    ...overrides,
  });
}

/** A fixed instant, so that signatures can be compared with values worked out by hand. */
export const FIXED_NOW_MS = Date.parse("2026-11-23T10:00:00.000Z");
export const fixedClock = (ms = FIXED_NOW_MS) => ({ now: () => new Date(ms).toISOString() });

/** The error `promise` rejects with; fails the test when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** The receivers listen on loopback: a sender that tries them must be allowed to, as the local stack's is. */
export const RECEIVER_TARGETS = { allowLoopback: true } as const;
