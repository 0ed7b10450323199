import type { TaskView } from "../../core/engine/index.js";
import type { RunView } from "../../core/engine/view.js";

/** Runs as the API shows them, for tests of the CLI's rendering and polling. */
export const T0 = Date.parse("2026-03-01T12:00:00Z");
export const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

export function task(name: string, overrides: Partial<TaskView> = {}): TaskView {
  return { name, status: "pending", reason: "Pending", attempt: 0, outputs: {}, ...overrides };
}

export function runView(overrides: Partial<RunView> = {}): RunView {
  return {
    id: "r1",
    pipeline: "hello",
    status: "running",
    reason: "Running",
    trigger: {
      provider: "github",
      event: "manual",
      repository: "acme/hello",
      cloneUrl: "https://github.com/acme/hello.git",
      ref: "refs/heads/main",
      branch: "main",
      commit: "0123456789abcdef0123",
      message: "manual run",
      author: "",
    },
    appVersion: "main-0123456",
    params: {},
    round: 0,
    stages: [
      {
        name: "build",
        parallel: true,
        status: "succeeded",
        tasks: [
          task("compile", {
            status: "succeeded",
            reason: "Succeeded",
            attempt: 1,
            startedAt: at(1),
            finishedAt: at(3.5),
          }),
        ],
      },
      {
        name: "ship",
        parallel: false,
        status: "waiting",
        tasks: [
          task("deploy", { status: "waiting", reason: "AwaitingApproval", approvers: ["alice", "bob"] }),
        ],
      },
    ],
    deliveryFailures: [],
    createdAt: at(0),
    startedAt: at(1),
    updatedAt: at(4),
    ...overrides,
  };
}

export function withTask(view: RunView, name: string, patch: Partial<TaskView>): RunView {
  return {
    ...view,
    stages: view.stages.map((s) => ({
      ...s,
      tasks: s.tasks.map((t) => (t.name === name ? { ...t, ...patch } : t)),
    })),
  };
}
