import type { Command } from "commander";
import { HOOKFLOW_VERSION } from "../../version.js";
import { ApiError, CliError, type DoctorAnswer } from "../client.js";
import type { CommandEnv, Context } from "../context.js";
import { visible } from "../visible.js";
import { jsonOption } from "./options.js";

type Finding = DoctorAnswer["findings"][number];

const MARK = { ok: "✓", warn: "!", fail: "✗" } as const;
const COLOUR = { ok: "succeeded", warn: "waiting", fail: "failed" } as const;

/**
 * `hookflow doctor`: checks a deployment from outside. The API must answer (and its version is compared with
 * this CLI's); then the API checks itself with its own credentials (`GET /api/doctor`, admins only): webhook
 * secrets, task tokens, sign-in, the queue and its dead letters, the log bucket, the Kubernetes rights of
 * hookflow's identity. Exit 1 when any check failed.
 */
export function registerDoctor(program: Command, env: CommandEnv): void {
  program
    .command("doctor")
    .description(
      "check a deployment: API, webhook secrets, sign-in, queue and dead letters, log bucket, Kubernetes rights",
    )
    .addOption(jsonOption())
    .action(async (options: { json?: boolean }) => {
      const ctx = env.context();
      const findings = [await reachability(ctx)];
      if (findings[0]?.status !== "fail") findings.push(...(await inside(ctx)));
      if (options.json) ctx.json({ findings });
      else for (const finding of findings) show(ctx, finding);
      if (findings.some((f) => f.status === "fail")) env.setExitCode(1);
    });
}

async function reachability(ctx: Context): Promise<Finding> {
  const url = ctx.client.baseUrl;
  try {
    const { version } = await ctx.client.health();
    if (!version)
      return {
        check: "api",
        status: "warn",
        message: `reachable at ${url}, a release that does not say its version (this CLI is ${HOOKFLOW_VERSION})`,
        fix: "deploy this release (npx sst deploy)",
      };
    return version === HOOKFLOW_VERSION
      ? { check: "api", status: "ok", message: `reachable at ${url}, version ${version}` }
      : {
          check: "api",
          status: "warn",
          message: `reachable at ${url}, version ${version}; this CLI is ${HOOKFLOW_VERSION}`,
          fix: "deploy the same release as the CLI you use (npx sst deploy), or use the CLI of the deployed release",
        };
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    return {
      check: "api",
      status: "fail",
      message: error.message,
      fix: "set HOOKFLOW_URL to the URL `npx sst deploy` printed (or start it: npm start)",
    };
  }
}

async function inside(ctx: Context): Promise<Finding[]> {
  try {
    return (await ctx.client.doctor()).findings;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    const status = error instanceof ApiError ? error.status : undefined;
    return [
      {
        check: "checks from inside",
        status: "fail",
        message: status === 404 ? "this release has no GET /api/doctor" : error.message,
        fix:
          status === 401
            ? "run `hookflow login`, or set HOOKFLOW_API_TOKEN"
            : status === 403
              ? "the doctor's checks are an admin's: use an admin's token (or the bootstrap HOOKFLOW_API_TOKEN)"
              : "deploy this release (npx sst deploy)",
      },
    ];
  }
}

function show(ctx: Context, finding: Finding): void {
  const mark = ctx.style.status(COLOUR[finding.status], MARK[finding.status]);
  ctx.out(`${mark} ${ctx.style.bold(visible(finding.check))}: ${visible(finding.message)}`);
  if (finding.fix && finding.status !== "ok") ctx.out(`  ${ctx.style.grey("fix:")} ${visible(finding.fix)}`);
}
