import { maskText } from "../engine/view.js";
import type { ClusterAccess, LogArchive, QueueInspector } from "../ports.js";

export type FindingStatus = "ok" | "warn" | "fail";

/** One thing `hookflow doctor` checked: how it stands, and when it is not ok, what to do about it. */
export interface Finding {
  check: string;
  status: FindingStatus;
  message: string;
  fix?: string;
}

export interface DoctorReport {
  version: string;
  findings: Finding[];
}

export interface DoctorDeps {
  version: string;
  /** Which providers have their webhook secret set (never the secrets themselves). */
  webhookSecrets: { github: boolean; gitlab: boolean; gitea: boolean };
  /** HOOKFLOW_TOKEN_SECRET is set: task callback tokens (and sessions) can be made. */
  tokenSecret: boolean;
  signIn: { issuer?: string; clientId: boolean };
  queue: QueueInspector;
  /** The log archive; throws when none is configured. */
  archive: () => Promise<LogArchive>;
  /** hookflow's Kubernetes identity; undefined with the local process runner. Throws on a bad kubeconfig. */
  cluster: () => Promise<ClusterAccess | undefined>;
  /** The deployment's secrets, masked in any message a failure brings back (longest first). */
  secrets: readonly string[];
}

const SECRET_LINKS = {
  github: ["HOOKFLOW_GITHUB_SECRET", "HookflowGithubSecret"],
  gitlab: ["HOOKFLOW_GITLAB_TOKEN", "HookflowGitlabToken"],
  gitea: ["HOOKFLOW_GITEA_SECRET", "HookflowGiteaSecret"],
} as const;

/**
 * Checks a deployment from the inside, with its own configuration and credentials: what `GET /api/doctor`
 * answers and `hookflow doctor` shows. Every check runs, whatever the others found; none changes anything.
 */
export class Doctor {
  constructor(private readonly deps: DoctorDeps) {}

  async check(): Promise<DoctorReport> {
    const findings = await Promise.all([
      this.webhookSecrets(),
      this.tokenSecret(),
      this.signIn(),
      guarded("queue", () => this.queue()),
      guarded("log archive", () => this.archive()),
      guarded("kubernetes", () => this.kubernetes()),
    ]);
    const mask = (text: string) => maskText(text, this.deps.secrets);
    return {
      version: this.deps.version,
      findings: findings.map((f) => ({ ...f, message: mask(f.message), ...(f.fix && { fix: mask(f.fix) }) })),
    };
  }

  private async webhookSecrets(): Promise<Finding> {
    const providers = Object.keys(SECRET_LINKS) as Array<keyof typeof SECRET_LINKS>;
    const set = providers.filter((p) => this.deps.webhookSecrets[p]);
    const unset = providers.filter((p) => !this.deps.webhookSecrets[p]);
    if (set.length === 0)
      return {
        check: "webhook secrets",
        status: "fail",
        message: "no webhook secret is set: every delivery from every git host is refused (401)",
        fix: `set the secret of each host you use, the same value as in its webhook settings: npx sst secret set ${SECRET_LINKS.github[1]} <secret> (or ${SECRET_LINKS.github[0]} locally); likewise ${SECRET_LINKS.gitlab[1]}, ${SECRET_LINKS.gitea[1]}`,
      };
    return {
      check: "webhook secrets",
      status: "ok",
      message: `set for ${set.join(", ")}${unset.length > 0 ? `; ${unset.join(", ")} deliveries are refused (no secret)` : ""}`,
    };
  }

  private async tokenSecret(): Promise<Finding> {
    return this.deps.tokenSecret
      ? { check: "task tokens", status: "ok", message: "HOOKFLOW_TOKEN_SECRET is set" }
      : {
          check: "task tokens",
          status: "fail",
          message: "HOOKFLOW_TOKEN_SECRET is not set: no task can be given a callback token",
          fix: "npx sst secret set HookflowTokenSecret $(openssl rand -base64 32)",
        };
  }

  private async signIn(): Promise<Finding> {
    const { issuer, clientId } = this.deps.signIn;
    if (!issuer)
      return {
        check: "sign-in",
        status: "warn",
        message:
          "no sign-in: people use tokens an admin makes for them, and no one can approve in the console",
        fix: "register hookflow with your OpenID provider (redirect URI <url>/auth/callback) and set HOOKFLOW_OIDC_ISSUER, HOOKFLOW_OIDC_CLIENT_ID and the HookflowOidcClientSecret secret",
      };
    return clientId
      ? { check: "sign-in", status: "ok", message: `OpenID Connect with ${issuer}` }
      : {
          check: "sign-in",
          status: "fail",
          message: `HOOKFLOW_OIDC_ISSUER is ${issuer} but HOOKFLOW_OIDC_CLIENT_ID is not set: sign-in cannot work`,
          fix: "set HOOKFLOW_OIDC_CLIENT_ID to the client id the provider gave hookflow",
        };
  }

  private async queue(): Promise<Finding> {
    const { waiting, inFlight, deadLetters } = await this.deps.queue.depth();
    const counts = `${waiting} waiting, ${inFlight} being handled`;
    if (deadLetters === undefined)
      return {
        check: "queue",
        status: "warn",
        message: `${counts}; the work queue has no dead-letter queue, so a message that keeps failing blocks its run`,
        fix: "deploy with `npx sst deploy`: it gives the work queue its dead-letter queue",
      };
    if (deadLetters > 0)
      return {
        check: "queue",
        status: "fail",
        message: `${counts}; ${deadLetters} message${deadLetters === 1 ? "" : "s"} in the dead-letter queue: their runs may be stuck`,
        fix: "read why in the scheduler's log, fix it, then replay them (docs/operations.md, Replaying dead letters)",
      };
    return { check: "queue", status: "ok", message: `${counts}; no dead letters` };
  }

  private async archive(): Promise<Finding> {
    const archive = await this.deps.archive();
    await archive.reachable();
    return { check: "log archive", status: "ok", message: "the log bucket can be reached" };
  }

  private async kubernetes(): Promise<Finding> {
    const cluster = await this.deps.cluster();
    if (!cluster)
      return { check: "kubernetes", status: "ok", message: "local process runner (no cluster configured)" };
    const rights = await cluster.review();
    const missing = rights.filter((r) => !r.allowed);
    const name = (r: (typeof rights)[number]) =>
      `${r.verb} ${r.subresource ? `${r.resource}/${r.subresource}` : r.resource}${r.group ? ` (${r.group})` : ""}`;
    if (missing.length === 0)
      return {
        check: "kubernetes",
        status: "ok",
        message: `all ${rights.length} rights hookflow needs in namespace ${cluster.namespace}`,
      };
    return {
      check: "kubernetes",
      status: "fail",
      message: `missing in namespace ${cluster.namespace}: ${missing.map((r) => `${name(r)}, to ${r.why}`).join("; ")}`,
      fix: `grant them to hookflow's identity in its Role in ${cluster.namespace}: kubectl apply -f infra/kubernetes/scheduler.yaml (the rules hookflow needs)`,
    };
  }
}

const FIXES: Record<string, string> = {
  queue:
    "check HOOKFLOW_QUEUE_URL and that the API function may call sqs:GetQueueAttributes and sqs:GetQueueUrl",
  "log archive": "check HOOKFLOW_LOG_BUCKET (the HookflowLogs link) and that the function may read it",
  kubernetes:
    "check HOOKFLOW_KUBECONFIG: its server must be reachable from hookflow's functions and its token valid (kubectl --kubeconfig … auth can-i --list -n <namespace>)",
};

/** A check that could not be made is a failure saying why, not an error of the whole report. */
async function guarded(check: string, run: () => Promise<Finding>): Promise<Finding> {
  try {
    return await run();
  } catch (error) {
    const why = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
    return {
      check,
      status: "fail",
      message: `cannot be checked: ${why}`,
      ...(FIXES[check] && { fix: FIXES[check] }),
    };
  }
}
