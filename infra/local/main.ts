/**
 * `npm start`: hookflow on this machine, no cloud account. Ctrl-C stops everything, emulators included.
 */
import { maskingLogger } from "../../core/adapters/system.js";
import { ValidationError } from "../../core/errors.js";
import type { Logger } from "../../core/ports.js";
import { secretsFile } from "./secrets.js";
import { startStack } from "./stack.js";

// The SDK warns on Node 20 about its releases after January 2027; the lockfile pins this one, which supports 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const quiet = process.env.HOOKFLOW_LOG === "quiet";
const debug = process.env.HOOKFLOW_LOG_LEVEL === "debug";
// The same seam as on Lambda (credentials masked), printed for people rather than as JSON.
const log: Logger = maskingLogger((level, message, fields) => {
  if ((quiet && level === "info") || (level === "debug" && !debug)) return;
  const detail = Object.entries(fields).map(
    ([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`,
  );
  console.log([new Date().toISOString().slice(11, 19), level.padEnd(5), message, ...detail].join(" "));
});

const dataDir = process.env.HOOKFLOW_DATA_DIR ?? ".hookflow";
console.log("starting hookflow (DynamoDB Local, SQS emulator, scheduler, reconciler) ...");
const stack = await startStack({ env: process.env, log }).catch((error: Error) => {
  console.error(
    `hookflow could not start: ${error instanceof ValidationError ? error.explain() : error.message}`,
  );
  process.exit(1);
});

const secretsPath = secretsFile(dataDir);
const source = (from: "environment" | "generated", variable: string) =>
  from === "environment" ? `from ${variable}` : `generated, in ${secretsPath}`;
// A token the user gave is theirs to know: only a generated one is shown, so that it can be copied.
const tokenFromEnv = Boolean(process.env.HOOKFLOW_API_TOKEN);
console.log(`
hookflow is running (local stack; data in ${dataDir})

  webhooks   ${stack.url}/webhooks/github   /webhooks/gitlab   /webhooks/gitea
  callbacks  ${stack.url}/callbacks/tasks/{taskId}
  console    ${stack.url}/runs   (sign in there, or give it the API token)
  api        ${stack.url}/api   (OpenAPI: ${stack.url}/api/openapi.json)
  health     ${stack.url}/healthz
  runner     ${stack.runner === "local" ? "local processes (set HOOKFLOW_KUBECONFIG or KUBECONFIG for Kubernetes)" : `Kubernetes, namespace ${stack.config.HOOKFLOW_NAMESPACE}`}

  API token          ${tokenFromEnv ? "from HOOKFLOW_API_TOKEN" : `${stack.apiToken}   (generated, in ${secretsPath})`}
  webhook secrets    github: ${source(stack.secretSources.github, "HOOKFLOW_GITHUB_SECRET")}
                     gitlab: ${source(stack.secretSources.gitlab, "HOOKFLOW_GITLAB_TOKEN")}
                     gitea:  ${source(stack.secretSources.gitea, "HOOKFLOW_GITEA_SECRET")}

${
  stack.signIn
    ? `Sign in at ${stack.url}/auth/login (local OpenID provider at ${stack.signIn.issuer}; new passwords each start):
${Object.entries(stack.signIn.users)
  .map(
    ([name, u]) => `  ${name.padEnd(6)} ${u.password}   ${u.email}, groups: ${u.groups.join(", ") || "none"}`,
  )
  .join("\n")}
  roles (HOOKFLOW_ROLES): ${stack.config.HOOKFLOW_ROLES.admin.join(", ")} admin; ${stack.config.HOOKFLOW_ROLES.operator.join(", ")} operator; ${stack.config.HOOKFLOW_ROLES.viewer.join(", ")} viewer
  npx hookflow login   signs the CLI in as one of them

`
    : ""
}Try it (another terminal): start the example pipeline with a signed push and follow it:
  npm run demo

Or by hand:
  export HOOKFLOW_URL=${stack.url}${tokenFromEnv ? "" : ` HOOKFLOW_API_TOKEN=${stack.apiToken}`}
  npx hookflow apply -f examples/hello.yaml && npx hookflow run hello --commit "$(git rev-parse HEAD)" --watch

Ctrl-C stops everything.
`);
console.log(`hookflow ready at ${stack.url}`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping hookflow ...`);
  await stack.stop();
  console.log("stopped");
  process.exit(0);
};
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
