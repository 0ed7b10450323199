import * as z from "zod/mini";
import { PermanentError } from "../../errors.js";
import { formatPath } from "../../model/index.js";
import { schema } from "../../model/schema.js";

/**
 * The fields of a Job that hookflow builds or relies on, checked before anything is sent: a Job the API would
 * refuse fails its task at once with the field named, instead of a round trip and a 422. Every other field is
 * left to the API server, which knows them better.
 */

const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? "required" : `must be ${what}`),
});

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** What names of namespaces, Jobs and containers must be (RFC 1123 label). */
export const isDnsLabel = (name: string) => name.length <= 63 && DNS_LABEL.test(name);
const dnsLabel = /* @__PURE__ */ schema(() =>
  z
    .string(required("a string"))
    .check(
      z.maxLength(63, "at most 63 characters"),
      z.regex(DNS_LABEL, "lowercase letters, digits and '-', starting and ending with a letter or digit"),
    ),
);

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelKey = /* @__PURE__ */ schema(() =>
  z.string().check(
    z.refine((key) => {
      const slash = key.lastIndexOf("/");
      const prefix = slash < 0 ? undefined : key.slice(0, slash);
      const name = slash < 0 ? key : key.slice(slash + 1);
      const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
      return prefixOk && name.length <= 63 && LABEL_NAME.test(name);
    }, "not a valid label key"),
  ),
);
const labelValue = /* @__PURE__ */ schema(() =>
  z
    .string()
    .check(
      z.maxLength(63, "at most 63 characters"),
      z.regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, "not a valid label value"),
    ),
);

/** Kubernetes' classic rule for environment variable names, accepted by every supported version. */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const EnvVar = /* @__PURE__ */ schema(() =>
  z.looseObject({
    name: z
      .string(required("a string"))
      .check(z.regex(ENV_NAME, "letters, digits, '_', '-' and '.', not starting with a digit")),
    value: z.optional(z.string()),
  }),
);

const Container = /* @__PURE__ */ schema(() =>
  z.looseObject({
    name: dnsLabel,
    image: z.string(required("a string")).check(z.minLength(1, "required")),
    env: z.optional(z.array(EnvVar)),
    command: z.optional(z.array(z.string())),
    args: z.optional(z.array(z.string())),
  }),
);

const ObjectMeta = /* @__PURE__ */ schema(() =>
  z.looseObject({
    name: dnsLabel,
    namespace: dnsLabel,
    labels: z.optional(z.record(labelKey, labelValue)),
    annotations: z.optional(z.record(z.string(), z.string())),
  }),
);

export const BuiltJob = /* @__PURE__ */ schema(() =>
  z.looseObject({
    apiVersion: z.literal("batch/v1"),
    kind: z.literal("Job"),
    metadata: ObjectMeta,
    spec: z.looseObject({
      backoffLimit: z.int().check(z.gte(0)),
      activeDeadlineSeconds: z.int().check(z.gte(1, "at least 1")),
      ttlSecondsAfterFinished: z.int().check(z.gte(0)),
      template: z.looseObject(
        {
          metadata: z.optional(z.looseObject({ labels: z.optional(z.record(labelKey, labelValue)) })),
          spec: z.looseObject(
            {
              restartPolicy: z.enum(["Never", "OnFailure"], {
                error: "must be Never or OnFailure for a Job",
              }),
              containers: z
                .array(Container, required("a list"))
                .check(z.minLength(1, "a Job needs at least one container")),
              initContainers: z.optional(z.array(Container)),
            },
            required("an object"),
          ),
        },
        required("an object"),
      ),
    }),
  }),
);

/** Throws PermanentError listing each field at fault (`spec.template.spec.containers[0].image: required`). */
export function assertValidJob(job: unknown, task: string): void {
  const result = BuiltJob.safeParse(job);
  if (result.success) return;
  const problems = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  throw new PermanentError(`task "${task}" cannot become a Kubernetes Job: ${problems.join("; ")}`);
}
