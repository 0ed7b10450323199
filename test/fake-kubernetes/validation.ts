import { schemaProblems } from "./schema.js";
import type { Cause } from "./status.js";

/** The checks the API server makes that a runner could get wrong; worded as the API server words them. */

type Json = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const required = (field: string): Cause => ({
  field,
  reason: "FieldValueRequired",
  message: "Required value",
});
const bad = (field: string, value: unknown, why: string): Cause => ({
  field,
  reason: "FieldValueInvalid",
  message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
});

const asObject = (value: unknown): Json | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined;

function checkName(name: unknown, field: string, causes: Cause[], label: boolean) {
  if (typeof name !== "string" || name === "") return void causes.push(required(field));
  if (label ? name.length > 63 || !DNS_LABEL.test(name) : name.length > 253 || !DNS_SUBDOMAIN.test(name))
    causes.push(
      bad(
        field,
        name,
        `a lowercase RFC 1123 ${label ? "label" : "subdomain"} must consist of lower case alphanumeric characters or '-'`,
      ),
    );
}

function checkLabels(labels: unknown, field: string, causes: Cause[]) {
  for (const [key, value] of Object.entries(asObject(labels) ?? {})) {
    const name = key.slice(key.lastIndexOf("/") + 1);
    const prefix = key.includes("/") ? key.slice(0, key.lastIndexOf("/")) : undefined;
    if (name.length > 63 || !LABEL_NAME.test(name) || (prefix !== undefined && !DNS_SUBDOMAIN.test(prefix)))
      causes.push(bad(`${field}`, key, "name part must consist of alphanumeric characters, '-', '_' or '.'"));
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value))
      causes.push(
        bad(
          `${field}`,
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'",
        ),
      );
  }
}

function checkContainers(list: unknown, field: string, causes: Cause[], atLeastOne: boolean) {
  if (list === undefined && !atLeastOne) return;
  if (!Array.isArray(list) || list.length === 0) return void (atLeastOne && causes.push(required(field)));
  const names = new Set<string>();
  for (const [i, item] of list.entries()) {
    const at = `${field}[${i}]`;
    const container = asObject(item) ?? {};
    checkName(container.name, `${at}.name`, causes, true);
    if (typeof container.name === "string") {
      if (names.has(container.name))
        causes.push({
          field: `${at}.name`,
          reason: "FieldValueInvalid",
          message: `Duplicate value: "${container.name}"`,
        });
      names.add(container.name);
    }
    if (typeof container.image !== "string" || container.image.trim() === "")
      causes.push(required(`${at}.image`));
    const policy = container.terminationMessagePolicy;
    if (policy !== undefined && policy !== "File" && policy !== "FallbackToLogsOnError")
      causes.push({
        field: `${at}.terminationMessagePolicy`,
        reason: "FieldValueNotSupported",
        message: `Unsupported value: "${String(policy)}"`,
      });
    const env = container.env;
    if (env !== undefined && !Array.isArray(env)) causes.push(bad(`${at}.env`, env, "must be a list"));
    for (const [j, entry] of (Array.isArray(env) ? env : []).entries()) {
      const variable = asObject(entry) ?? {};
      const envAt = `${at}.env[${j}]`;
      if (typeof variable.name !== "string" || variable.name === "") causes.push(required(`${envAt}.name`));
      else if (!ENV_NAME.test(variable.name))
        causes.push(
          bad(
            `${envAt}.name`,
            variable.name,
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.'",
          ),
        );
      if (variable.value !== undefined && variable.valueFrom !== undefined)
        causes.push(bad(`${envAt}.valueFrom`, "", "may not be specified when `value` is not empty"));
      const ref = asObject(asObject(variable.valueFrom)?.secretKeyRef);
      if (ref) {
        if (typeof ref.name !== "string" || ref.name === "")
          causes.push(required(`${envAt}.valueFrom.secretKeyRef.name`));
        if (typeof ref.key !== "string" || ref.key === "")
          causes.push(required(`${envAt}.valueFrom.secretKeyRef.key`));
      }
    }
  }
}

/** The official schema's verdict (types, required fields, no unknown field), as causes. */
function schemaCauses(object: Json): Cause[] {
  return schemaProblems(object).map((problem) => {
    const colon = problem.lastIndexOf(": ");
    const field = problem.slice(0, colon);
    const what = problem.slice(colon + 2);
    return what === "required"
      ? required(field)
      : { field, reason: "FieldValueInvalid", message: `Invalid value: ${what}` };
  });
}

/** The schema and the rules below may both fault a field (a string backoffLimit): the API names it once. */
function onePerField(causes: Cause[]): Cause[] {
  const seen = new Set<string>();
  return causes.filter((cause) => !seen.has(cause.field) && seen.add(cause.field));
}

export function validateJob(job: Json, namespace: string): Cause[] {
  const causes: Cause[] = schemaCauses({ apiVersion: "batch/v1", kind: "Job", ...job });
  const metadata = asObject(job.metadata) ?? {};
  checkName(metadata.name, "metadata.name", causes, true);
  if (metadata.namespace !== undefined && metadata.namespace !== namespace)
    causes.push(bad("metadata.namespace", metadata.namespace, "does not match the namespace of the request"));
  checkLabels(metadata.labels, "metadata.labels", causes);
  const spec = asObject(job.spec);
  if (!spec) return [...causes, required("spec.template.spec.containers")];
  for (const key of ["backoffLimit", "ttlSecondsAfterFinished"])
    if (spec[key] !== undefined && !(Number.isInteger(spec[key]) && (spec[key] as number) >= 0))
      causes.push(bad(`spec.${key}`, spec[key], "must be greater than or equal to 0"));
  if (
    spec.activeDeadlineSeconds !== undefined &&
    !(Number.isInteger(spec.activeDeadlineSeconds) && (spec.activeDeadlineSeconds as number) > 0)
  )
    causes.push(bad("spec.activeDeadlineSeconds", spec.activeDeadlineSeconds, "must be greater than 0"));
  const template = asObject(spec.template) ?? {};
  checkLabels(asObject(template.metadata)?.labels, "spec.template.metadata.labels", causes);
  const podSpec = asObject(template.spec) ?? {};
  checkContainers(podSpec.containers, "spec.template.spec.containers", causes, true);
  checkContainers(podSpec.initContainers, "spec.template.spec.initContainers", causes, false);
  const restartPolicy = podSpec.restartPolicy;
  if (restartPolicy === undefined)
    causes.push({
      field: "spec.template.spec.restartPolicy",
      reason: "FieldValueRequired",
      message: 'Required value: valid values: "OnFailure", "Never"',
    });
  else if (restartPolicy !== "Never" && restartPolicy !== "OnFailure")
    causes.push({
      field: "spec.template.spec.restartPolicy",
      reason: "FieldValueNotSupported",
      message: `Unsupported value: "${String(restartPolicy)}": supported values: "OnFailure", "Never"`,
    });
  if (spec.podFailurePolicy !== undefined) {
    if (restartPolicy !== "Never")
      causes.push(
        bad(
          "spec.template.spec.restartPolicy",
          restartPolicy,
          'only "Never" is supported when podFailurePolicy is specified',
        ),
      );
    if (spec.podReplacementPolicy !== undefined && spec.podReplacementPolicy !== "Failed")
      causes.push({
        field: "spec.podReplacementPolicy",
        reason: "FieldValueNotSupported",
        message: `Unsupported value: "${String(spec.podReplacementPolicy)}": supported values: "Failed"`,
      });
  }
  return onePerField(causes);
}

export function validateSecret(secret: Json, namespace: string): Cause[] {
  const causes: Cause[] = schemaCauses({ apiVersion: "v1", kind: "Secret", ...secret });
  const metadata = asObject(secret.metadata) ?? {};
  checkName(metadata.name, "metadata.name", causes, false);
  if (metadata.namespace !== undefined && metadata.namespace !== namespace)
    causes.push(bad("metadata.namespace", metadata.namespace, "does not match the namespace of the request"));
  checkLabels(metadata.labels, "metadata.labels", causes);
  for (const field of ["data", "stringData"])
    for (const [key, value] of Object.entries(asObject(secret[field]) ?? {})) {
      if (!SECRET_KEY.test(key))
        causes.push(
          bad(
            `${field}[${key}]`,
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
          ),
        );
      if (typeof value !== "string") causes.push(bad(`${field}[${key}]`, value, "must be a string"));
    }
  return onePerField(causes);
}
