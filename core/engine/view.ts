import {
  type AttemptRecord,
  type Run,
  runStagesOf,
  type TaskReason,
  type TaskStatus,
} from "../model/index.js";
import { sensitiveNames } from "./render.js";
import { type StageStatus, stageStatus } from "./status.js";

export const MASK = "******";
/** Shorter values are not searched for in text: masking every "a" would hide everything and protect nothing. */
const MIN_MASKED_LENGTH = 3;

/** The sensitive values of a run: params declared sensitive by its job templates, wherever they were given. */
export function secretValues(run: Run): string[] {
  const names = sensitiveNames(run);
  const values = new Set<string>();
  const sources = [
    run.params,
    run.definition.params,
    ...runStagesOf(run.definition).flatMap((s) => s.tasks.map((t) => t.params ?? {})),
    ...Object.values(run.jobs).map((j) => Object.fromEntries(j.params.map((p) => [p.name, p.default ?? ""]))),
  ];
  for (const source of sources)
    for (const [name, value] of Object.entries(source))
      if (names.has(name) && value.length > 0) values.add(value);
  return [...values].sort((a, b) => b.length - a.length);
}

export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= MIN_MASKED_LENGTH) out = out.split(secret).join(MASK);
  return out;
}

export interface TaskView {
  name: string;
  status: TaskStatus;
  reason: TaskReason;
  attempt: number;
  message?: string;
  jobName?: string;
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  outputs: Record<string, string>;
  approval?: Run["stages"][number]["tasks"][number]["approval"];
  approvers?: string[];
  /** The tasks it waits for, as its definition names them: the graph's edges. */
  needs?: string[];
  /** The attempts whose logs the archive keeps, with their containers (the running attempt's is read live). */
  logs?: Array<{ attempt: number; containers: string[]; gone?: boolean }>;
  /** When a retry waiting for its backoff may start. */
  retryAt?: string;
  /** Earlier attempts, oldest first: each as it ended, with its Job (its logs: `?attempt=N`). */
  history?: AttemptRecord[];
}

export interface RunView {
  id: string;
  pipeline: string;
  status: Run["status"];
  reason: Run["reason"];
  message?: string;
  trigger: Omit<Run["trigger"], "changedFiles">;
  appVersion: string;
  params: Record<string, string>;
  concurrencyGroup?: string;
  /** A fork's pull request run: who trusted it, once someone has. */
  trustedBy?: Run["trustedBy"];
  round: number;
  stages: Array<{
    name: string;
    parallel: boolean;
    finally?: boolean;
    status: StageStatus;
    tasks: TaskView[];
  }>;
  deliveryFailures: Run["deliveryFailures"];
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
}

/** A run as people and tools see it: derived stage statuses, sensitive values masked everywhere. */
export function runView(run: Run): RunView {
  const secrets = secretValues(run);
  const names = sensitiveNames(run);
  const mask = (text: string | undefined) => (text === undefined ? undefined : maskText(text, secrets));
  const maskValues = (values: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, names.has(k) ? MASK : maskText(v, secrets)]),
    );
  const view: RunView = {
    id: run.id,
    pipeline: run.pipeline,
    status: run.status,
    reason: run.reason,
    message: mask(run.message),
    trigger: run.trigger,
    appVersion: run.variables.APP_VERSION ?? "",
    params: maskValues(run.params),
    concurrencyGroup: run.concurrencyGroup,
    ...(run.trustedBy && { trustedBy: run.trustedBy }),
    round: run.round,
    stages: run.stages.map((stage, s) => {
      const defs = runStagesOf(run.definition)[s]?.tasks ?? [];
      return {
        name: stage.name,
        parallel: stage.parallel,
        ...(stage.finally && { finally: true }),
        status: stageStatus(stage, defs),
        tasks: stage.tasks.map((task, t) => ({
          name: task.name,
          status: task.status,
          reason: task.reason,
          attempt: task.attempt,
          message: mask(task.message),
          jobName: task.jobName,
          queuedAt: task.queuedAt,
          startedAt: task.startedAt,
          finishedAt: task.finishedAt,
          outputs: maskValues(task.outputs),
          approval: task.approval && { ...task.approval, comment: mask(task.approval.comment) },
          approvers: defs[t]?.approval?.approvers,
          needs: defs[t]?.needs,
          logs: task.logs,
          retryAt: task.retryAt,
          history: (task.history ?? []).map((h) => ({
            ...h,
            message: mask(h.message),
            outputs: maskValues(h.outputs),
          })),
        })),
      };
    }),
    deliveryFailures: run.deliveryFailures.map((f) => ({ ...f, error: maskText(f.error, secrets) })),
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    updatedAt: run.updatedAt,
  };
  return JSON.parse(JSON.stringify(view)) as RunView;
}
