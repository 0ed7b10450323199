import { createRun, transition } from "../../core/engine/index.js";
import {
  type Effect,
  type JobTemplate,
  type JobTemplateInput,
  JobTemplate as JobTemplateSchema,
  type Pipeline,
  type PipelineInput,
  Pipeline as PipelineSchema,
  type Run,
  type RunEvent,
  type TriggerContext,
} from "../../core/model/index.js";

export const T0 = "2026-11-23T10:00:00.000Z";

/** An ISO time `seconds` after T0. */
export const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

export function pipeline(overrides: Partial<PipelineInput> = {}): Pipeline {
  return PipelineSchema.parse({
    name: "web-app",
    triggers: [{ provider: "github", repository: "acme/web-app", events: ["push", "tag"] }],
    stages: [
      { name: "check", parallel: true, tasks: [runTask("unit"), runTask("lint"), runTask("types")] },
      { name: "ship", tasks: [runTask("image"), runTask("deploy")] },
    ],
    ...overrides,
  });
}

export function runTask(name: string, extra: Record<string, unknown> = {}) {
  return { name, run: { image: "node:22", command: ["sh", "-c", `echo ${name}`] }, ...extra };
}

export function jobTemplate(overrides: Partial<JobTemplateInput> = {}): JobTemplate {
  return JobTemplateSchema.parse({
    name: "kaniko-build",
    params: [
      { name: "IMAGE", required: true },
      { name: "DOCKERFILE", default: "Dockerfile" },
      { name: "REGISTRY_PASSWORD", sensitive: true, default: "hunter2-secret" },
    ],
    template: {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "ignored", labels: { team: "web" } },
      spec: {
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [
              {
                name: "kaniko",
                image: "gcr.io/kaniko-project/executor:v1.23.2",
                args: [
                  "--dockerfile=${DOCKERFILE}",
                  "--destination=${IMAGE}:${APP_VERSION}",
                  "--label=${GIT_BRANCH}",
                ],
              },
            ],
          },
        },
      },
    },
    ...overrides,
  });
}

export function trigger(overrides: Partial<TriggerContext> = {}): TriggerContext {
  return {
    provider: "github",
    event: "push",
    repository: "acme/web-app",
    cloneUrl: "https://github.com/acme/web-app.git",
    ref: "refs/heads/main",
    branch: "main",
    commit: "0123456789abcdef0123456789abcdef01234567",
    message: "Fix the build",
    author: "alice",
    ...overrides,
  };
}

export function newRun(
  options: {
    pipeline?: Pipeline;
    jobs?: Record<string, JobTemplate>;
    trigger?: TriggerContext;
    params?: Record<string, string>;
    id?: string;
    commitStatus?: boolean;
  } = {},
): Run {
  return createRun({
    id: options.id ?? "r1",
    pipeline: options.pipeline ?? pipeline(),
    jobs: options.jobs ?? {},
    trigger: options.trigger ?? trigger(),
    params: options.params,
    commitStatus: options.commitStatus,
    now: T0,
  });
}

/** Applies events in order, collecting every effect; fails loudly if the engine throws. */
export function play(
  run: Run,
  events: Array<RunEvent | [RunEvent, string]>,
): { run: Run; effects: Effect[] } {
  let current = run;
  const effects: Effect[] = [];
  for (const item of events) {
    const [event, now] = Array.isArray(item) ? item : [item, T0];
    const result = transition(current, event, now);
    current = result.run;
    effects.push(...result.effects);
  }
  return { run: current, effects };
}

export const started = (): RunEvent => ({ type: "run.created" });

export function taskState(run: Run, name: string) {
  const task = run.stages.flatMap((s) => s.tasks).find((t) => t.name === name);
  if (!task) throw new Error(`no task ${name}`);
  return task;
}

/** Events that take a task through one attempt to success. */
export function succeed(run: Run, name: string, outputs?: Record<string, string> | string): RunEvent[] {
  const attempt = taskState(run, name).attempt;
  return [
    { type: "task.started", task: name, attempt },
    { type: "task.succeeded", task: name, attempt, ...(outputs !== undefined && { outputs }) },
  ];
}

export const submits = (effects: Effect[]) => effects.filter((e) => e.type === "submitTask");
export const submittedTasks = (effects: Effect[]) =>
  submits(effects).map((e) => (e.type === "submitTask" ? e.launch.task : ""));
