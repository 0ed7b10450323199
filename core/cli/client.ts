import type { RunView } from "../engine/view.js";
import type { Issue, JobTemplate, Pipeline, RunStatus } from "../model/index.js";

/** A failure the CLI reports in one message and turns into its exit code (1: it failed, 2: misuse). */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Nothing answered at the URL: the one failure worth retrying while watching. */
export class UnreachableError extends CliError {
  override name = "UnreachableError";
}

/** What may pass by itself: no answer, or a gateway's 502/503/504 while a function starts or is throttled. */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof UnreachableError || (error instanceof ApiError && [502, 503, 504].includes(error.status))
  );
}

/** The API answered with an error; `error` and `issues` are what it said, `message` how the CLI shows it. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly error: string,
    readonly issues: ApiIssue[],
  ) {
    super(message);
  }
}

export type ApiIssue = Pick<Issue, "path" | "message" | "line">;
export type DefinitionKind = "job" | "pipeline";
export interface Saved {
  created: boolean;
  warnings: ApiIssue[];
}
interface RunPage {
  items: RunView[];
  cursor?: string;
}
export interface RunQuery {
  pipeline?: string;
  status?: RunStatus;
  limit?: number;
  cursor?: string;
}
export interface ManualRun {
  ref?: string;
  commit?: string;
  params?: Record<string, string>;
}

export interface DoctorAnswer {
  version: string;
  findings: Array<{ check: string; status: "ok" | "warn" | "fail"; message: string; fix?: string }>;
}

export interface ClientOptions {
  baseUrl: string;
  token: string | undefined;
  fetch: typeof fetch;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const UNAUTHORIZED =
  "the API refused the token: run `hookflow login`, or set HOOKFLOW_API_TOKEN (npm start prints it)";

/** The management API (functions/api.ts) over fetch; every failure becomes a CliError with its exit code. */
export class HookflowClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, "");
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  async putDefinition(kind: DefinitionKind, name: string, text: string): Promise<Saved> {
    const collection = kind === "job" ? "jobs" : "pipelines";
    const res = await this.send("PUT", `/api/${collection}/${encodeURIComponent(name)}`, {
      body: text,
      contentType: "application/yaml",
    });
    const body = (await res.json()) as { warnings?: ApiIssue[] };
    return { created: res.status === 201, warnings: body.warnings ?? [] };
  }

  async listPipelines(): Promise<{ items: Pipeline[] }> {
    return this.json("GET", "/api/pipelines");
  }

  async listJobs(): Promise<{ items: JobTemplate[] }> {
    return this.json("GET", "/api/jobs");
  }

  async startRun(pipeline: string, request: ManualRun): Promise<RunView> {
    return this.json("POST", `/api/pipelines/${encodeURIComponent(pipeline)}/runs`, request);
  }

  async listRuns(query: RunQuery): Promise<RunPage> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
    const qs = search.size > 0 ? `?${search}` : "";
    return this.json("GET", `/api/runs${qs}`);
  }

  async getRun(id: string): Promise<RunView> {
    return this.json("GET", `/api/runs/${encodeURIComponent(id)}`);
  }

  /** Cancels the run, or with `task` that task alone. */
  async cancel(id: string, by?: string, task?: string): Promise<RunView> {
    const path = task
      ? `/api/runs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/cancel`
      : `/api/runs/${encodeURIComponent(id)}/cancel`;
    return this.json("POST", path, by ? { by } : {});
  }

  async rerun(
    id: string,
    request: { failedOnly?: boolean; task?: string; downstream?: boolean },
  ): Promise<RunView> {
    return this.json("POST", `/api/runs/${encodeURIComponent(id)}/rerun`, request);
  }

  async decide(
    id: string,
    task: string,
    decision: "approve" | "deny",
    body: { by?: string; comment?: string },
  ): Promise<RunView> {
    return this.json("POST", `${this.taskPath(id, task)}/${decision}`, body);
  }

  /** `/healthz`: no token needed; older releases answer without a version. */
  async health(): Promise<{ ok: boolean; version?: string }> {
    return this.json("GET", "/healthz");
  }

  async doctor(): Promise<DoctorAnswer> {
    return this.json("GET", "/api/doctor");
  }

  async me(): Promise<{ name: string; email?: string; roles: string[]; kind: string }> {
    return this.json("GET", "/api/me");
  }

  /** Trades a `hookflow login` one-time code and its verifier for a personal token. */
  async exchangeLoginCode(body: {
    code: string;
    verifier: string;
    name: string;
  }): Promise<{ token: string; id: string; expiresAt: string }> {
    return this.json("POST", "/auth/cli/token", body);
  }

  async logs(
    id: string,
    task: string,
    query: { tail?: number; attempt?: number; container?: string } = {},
  ): Promise<string> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) params.set(name, String(value));
    const qs = params.size === 0 ? "" : `?${params}`;
    return (await this.send("GET", `${this.taskPath(id, task)}/logs${qs}`)).text();
  }

  private taskPath(id: string, task: string): string {
    return `/api/runs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}`;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(
      method,
      path,
      body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" },
    );
    return (await res.json()) as T;
  }

  private async send(
    method: string,
    path: string,
    { body, contentType }: { body?: string; contentType?: string } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json, text/plain" };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (contentType) headers["content-type"] = contentType;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let res: Response;
    try {
      res = await this.options.fetch(`${this.base}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && error.name === "TimeoutError")
        throw new UnreachableError(
          `hookflow at ${this.options.baseUrl} did not answer within ${timeoutMs / 1000}s`,
        );
      throw new UnreachableError(
        `cannot reach hookflow at ${this.options.baseUrl} (is it running? set HOOKFLOW_URL)`,
        1,
        { cause: error },
      );
    }
    if (res.ok) return res;
    throw await apiError(res);
  }
}

async function apiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let said: { error?: unknown; issues?: unknown } = {};
  try {
    said = JSON.parse(text) as typeof said;
  } catch {
    // Not the API's JSON (a proxy's page, another server at the URL): the status is all there is.
  }
  const error =
    typeof said.error === "string" ? said.error : `hookflow answered ${res.status} ${res.statusText}`.trim();
  const issues = Array.isArray(said.issues) ? (said.issues as ApiIssue[]) : [];
  if (res.status === 401) return new ApiError(`${UNAUTHORIZED} (it said: ${error})`, 401, error, issues);
  const lines = [error, ...issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))];
  return new ApiError(lines.join("\n"), res.status, error, issues);
}
