export { type CallPolicy, DEFAULT_CALL_POLICY, KubernetesRejection } from "./api-call.js";
export {
  type KubernetesApis,
  KubernetesHttpError,
  KubernetesTransportError,
  type Wire,
} from "./apis.js";
export { connectKubernetes, type KubeconfigSource, type KubernetesClient } from "./connect.js";
export {
  buildJob,
  DEFAULT_TTL_SECONDS_AFTER_FINISHED,
  DISRUPTIONS_DO_NOT_COUNT,
  type JobOptions,
  RUN_CONTAINER_NAME,
} from "./job.js";
export { HOOKFLOW_KEYS, JOB_NAME_LABEL, labelValue } from "./labels.js";
export { jobState, observationOf } from "./observe.js";
export {
  createKubernetesRunner,
  KubernetesRunner,
  type KubernetesRunnerOptions,
  type KubernetesRunnerSettings,
} from "./runner.js";
export { buildTaskSecret, secretNameFor } from "./secret.js";
