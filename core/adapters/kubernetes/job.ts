import type { V1Job } from "@kubernetes/client-node";
import { type TaskLaunch, timeoutGraceSeconds } from "../../model/index.js";
import { hookflowAnnotations, hookflowLabels } from "./labels.js";
import { assertValidJob } from "./manifest-schema.js";
import { secretNameFor } from "./secret.js";

export interface JobOptions {
  namespace: string;
  /** How long Kubernetes keeps a finished Job (and its pod, logs and Secret) before deleting it. */
  ttlSecondsAfterFinished: number;
}

/** A safety net only: hookflow deletes a finished Job itself once its log is archived. */
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 7 * 86_400;

/** The container of a `run` task; its termination message carries the task's outputs. */
export const RUN_CONTAINER_NAME = "task";

type JsonObject = Record<string, unknown>;

/**
 * The pod failure policy of every Job whose template sets none: a pod that fails because it was disrupted (a
 * drain, an eviction, preemption, its node lost: the DisruptionTarget condition) is replaced instead of
 * counting against backoffLimit 0, which would fail the task. The API accepts it only with restartPolicy Never
 * and podReplacementPolicy Failed (its default then).
 */
export const DISRUPTIONS_DO_NOT_COUNT = {
  rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }],
};

/** Metadata the API server sets; a template copied from an existing Job may carry them, a new Job must not. */
const SERVER_SET_METADATA = [
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
  "generateName",
];

/**
 * The batch/v1 Job for one task attempt, built from values only: no text is templated, so no value can change
 * the manifest's structure (the engine substituted the template's parsed strings already). Untrusted values
 * reach the container as env values. Throws PermanentError naming the field when the Job would be invalid.
 *
 * hookflow's fields override the template's: the name (one Job per attempt), backoffLimit 0 (retries are
 * hookflow's, each a new attempt), the deadlines, the TTL (the Job must outlive hookflow's last look at it), and
 * every container's env and termination message policy.
 *
 * Two deadlines: the pod's own (`activeDeadlineSeconds` of the pod template, the task's timeout from the pod's
 * start) is what times a task out: the kubelet kills its containers and the pod stays with its log, to be
 * archived. The Job's, later by the engine's grace, is a backstop for a pod that never starts; when it passes,
 * the Job controller deletes the Job's running pods, and their logs with them, so it must not come first.
 */
export function buildJob(launch: TaskLaunch, options: JobOptions): V1Job {
  const base = launch.source.kind === "run" ? runManifest(launch) : structuredClone(launch.source.manifest);
  const metadata = objectAt(base, "metadata");
  for (const key of SERVER_SET_METADATA) delete metadata[key];
  const spec = objectAt(base, "spec");
  const template = objectAt(spec, "template");
  const templateMetadata = objectAt(template, "metadata");
  const podSpec = objectAt(template, "spec");
  const labels = hookflowLabels(launch);
  const annotations = hookflowAnnotations(launch);
  const restartPolicy = podSpec.restartPolicy ?? "Never";

  const job: JsonObject = {
    ...base,
    metadata: {
      ...metadata,
      name: launch.jobName,
      namespace: options.namespace,
      labels: { ...recordAt(metadata, "labels"), ...labels },
      annotations: { ...recordAt(metadata, "annotations"), ...annotations },
    },
    spec: {
      ...spec,
      backoffLimit: 0,
      activeDeadlineSeconds: launch.timeoutSeconds + timeoutGraceSeconds(launch.timeoutSeconds),
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished,
      ...(spec.podFailurePolicy === undefined &&
        restartPolicy === "Never" &&
        (spec.podReplacementPolicy ?? "Failed") === "Failed" && {
          podFailurePolicy: structuredClone(DISRUPTIONS_DO_NOT_COUNT),
        }),
      template: {
        ...template,
        metadata: {
          ...templateMetadata,
          labels: { ...recordAt(templateMetadata, "labels"), ...labels },
          annotations: { ...recordAt(templateMetadata, "annotations"), ...annotations },
        },
        spec: {
          ...podSpec,
          activeDeadlineSeconds: launch.timeoutSeconds,
          restartPolicy,
          containers: withTaskEnv(podSpec.containers, launch),
          ...(podSpec.initContainers !== undefined && {
            initContainers: withTaskEnv(podSpec.initContainers, launch),
          }),
        },
      },
    },
  };
  delete job.status;
  assertValidJob(job, launch.task);
  return job as V1Job;
}

function runManifest(launch: TaskLaunch): JsonObject {
  if (launch.source.kind !== "run") throw new Error("not a run task");
  const { image, command, args, workingDir } = launch.source;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {},
    spec: {
      template: {
        spec: {
          // A plain command has no use for the namespace's service account; a job template may ask for one.
          automountServiceAccountToken: false,
          containers: [
            {
              name: RUN_CONTAINER_NAME,
              image,
              // Kubernetes expands $(NAME) in command and args from the env; a run command is taken as written
              // (a shell reads variables from the environment), so every $ is escaped for Kubernetes.
              command: command.map(escapeExpansion),
              ...(args !== undefined && { args: args.map(escapeExpansion) }),
              ...(workingDir !== undefined && { workingDir }),
            },
          ],
        },
      },
    },
  };
}

/**
 * Adds the task's env to every container. hookflow's variables come first, so that the template's own env
 * may refer to them as `$(NAME)`, and win over the template's for the same name. Sensitive ones come from the
 * attempt's Secret, never as values.
 */
function withTaskEnv(containers: unknown, launch: TaskLaunch): unknown {
  if (!Array.isArray(containers)) return containers;
  const taskEnv = taskEnvOf(launch);
  const names = new Set(taskEnv.map((entry) => entry.name));
  return containers.map((container: unknown) => {
    if (container === null || typeof container !== "object") return container;
    const own = Array.isArray((container as JsonObject).env)
      ? ((container as JsonObject).env as unknown[])
      : [];
    const kept = own.filter((entry) => !names.has((entry as { name?: unknown } | null)?.name as string));
    return { ...container, env: [...taskEnv, ...kept], terminationMessagePolicy: "FallbackToLogsOnError" };
  });
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

function taskEnvOf(launch: TaskLaunch): EnvVar[] {
  const secretName = secretNameFor(launch.jobName);
  const plain = Object.keys(launch.env)
    .filter((name) => !(name in launch.secretEnv))
    .sort()
    .map((name) => ({ name, value: escapeExpansion(launch.env[name] as string) }));
  const secret = Object.keys(launch.secretEnv)
    .sort()
    .map((name) => ({ name, valueFrom: { secretKeyRef: { name: secretName, key: name } } }));
  return [...plain, ...secret];
}

/**
 * Kubernetes expands `$(NAME)` in env values from the container's earlier variables, and reads `$$` as `$`.
 * Doubling every `$` makes the container see the value exactly as given: a branch named `$(HOOKFLOW_TASK_TOKEN)`
 * stays that text instead of becoming the token.
 */
export function escapeExpansion(value: string): string {
  return value.replace(/\$/g, () => "$$");
}

function objectAt(parent: JsonObject, key: string): JsonObject {
  const value = parent[key];
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

function recordAt(parent: JsonObject, key: string): Record<string, string> {
  return objectAt(parent, key) as Record<string, string>;
}
