/** Kubernetes `Status` objects, the body of every error the API server answers with. */

export interface Cause {
  field: string;
  reason: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueNotSupported" | "FieldValueForbidden";
  message: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: Cause[];
}

/** Thrown inside the fake to answer with a Status: `throw new ApiError(404, "NotFound", ...)`. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }
}

export function failureStatus(code: number, reason: string, message: string, details?: StatusDetails) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details && { details }),
    code,
  };
}

export function successStatus(details: StatusDetails) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}

/** The resource's name as Kubernetes writes it in messages: `jobs.batch`, `secrets`, `pods`. */
export interface Resource {
  plural: string;
  group: string;
  kind: string;
}

export const JOBS: Resource = { plural: "jobs", group: "batch", kind: "Job" };
export const PODS: Resource = { plural: "pods", group: "", kind: "Pod" };
export const SECRETS: Resource = { plural: "secrets", group: "", kind: "Secret" };

const qualified = (r: Resource) => (r.group ? `${r.plural}.${r.group}` : r.plural);

export const notFound = (r: Resource, name: string) =>
  new ApiError(404, "NotFound", `${qualified(r)} "${name}" not found`, {
    name,
    group: r.group,
    kind: r.plural,
  });

export const alreadyExists = (r: Resource, name: string) =>
  new ApiError(409, "AlreadyExists", `${qualified(r)} "${name}" already exists`, {
    name,
    group: r.group,
    kind: r.plural,
  });

/** 422 Invalid, worded like the API server: `Job.batch "x" is invalid: spec...image: Required value`. */
export function invalid(r: Resource, name: string, causes: Cause[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  const kind = r.group ? `${r.kind}.${r.group}` : r.kind;
  return new ApiError(422, "Invalid", `${kind} "${name}" is invalid: ${list}`, {
    name,
    group: r.group,
    kind: r.kind,
    causes,
  });
}

export const badRequest = (message: string) => new ApiError(400, "BadRequest", message);
