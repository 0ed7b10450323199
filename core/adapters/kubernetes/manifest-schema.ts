import * as z from "zod";
import { PermanentError } from "../../errors.js";
import { formatPath } from "../../model/index.js";

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
const dnsLabel = z
  .string(required("a string"))
  .max(63, "at most 63 characters")
  .regex(DNS_LABEL, "lowercase letters, digits and '-', starting and ending with a letter or digit");

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelKey = z.string().refine((key) => {
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  return prefixOk && name.length <= 63 && LABEL_NAME.test(name);
}, "not a valid label key");
const labelValue = z
  .string()
  .max(63, "at most 63 characters")
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, "not a valid label value");

/** Kubernetes' classic rule for environment variable names, accepted by every supported version. */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const EnvVar = z.looseObject({
  name: z
    .string(required("a string"))
    .regex(ENV_NAME, "letters, digits, '_', '-' and '.', not starting with a digit"),
  value: z.string().optional(),
});

const Container = z.looseObject({
  name: dnsLabel,
  image: z.string(required("a string")).min(1, "required"),
  env: z.array(EnvVar).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
});

const ObjectMeta = z.looseObject({
  name: dnsLabel,
  namespace: dnsLabel,
  labels: z.record(labelKey, labelValue).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const BuiltJob = z.looseObject({
  apiVersion: z.literal("batch/v1"),
  kind: z.literal("Job"),
  metadata: ObjectMeta,
  spec: z.looseObject({
    backoffLimit: z.number().int().min(0),
    activeDeadlineSeconds: z.number().int().min(1, "at least 1"),
    ttlSecondsAfterFinished: z.number().int().min(0),
    template: z.looseObject(
      {
        metadata: z.looseObject({ labels: z.record(labelKey, labelValue).optional() }).optional(),
        spec: z.looseObject(
          {
            restartPolicy: z.enum(["Never", "OnFailure"], { error: "must be Never or OnFailure for a Job" }),
            containers: z.array(Container, required("a list")).min(1, "a Job needs at least one container"),
            initContainers: z.array(Container).optional(),
          },
          required("an object"),
        ),
      },
      required("an object"),
    ),
  }),
});

/** Throws PermanentError listing each field at fault (`spec.template.spec.containers[0].image: required`). */
export function assertValidJob(job: unknown, task: string): void {
  const result = BuiltJob.safeParse(job);
  if (result.success) return;
  const problems = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  throw new PermanentError(`task "${task}" cannot become a Kubernetes Job: ${problems.join("; ")}`);
}
