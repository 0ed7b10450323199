import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "./client.js";

export const DEFAULT_URL = "http://127.0.0.1:8787";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

interface CliConfig {
  baseUrl: string;
  token: string | undefined;
}

/**
 * Where the API is and how to authenticate. Without HOOKFLOW_API_TOKEN, the token the local stack (`npm start`)
 * generated in its data directory, so that the CLI works next to it with no setup.
 */
export function resolveConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): CliConfig {
  const baseUrl = env.HOOKFLOW_URL || DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new CliError("HOOKFLOW_URL is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError(`HOOKFLOW_URL must be http or https: ${url.protocol}`);
  if (url.username || url.password)
    throw new CliError("HOOKFLOW_URL must not hold credentials: set HOOKFLOW_API_TOKEN instead");
  // The local stack's token is for the local stack: never sent to a server elsewhere.
  const local = LOOPBACK.has(url.hostname);
  return {
    baseUrl,
    token: env.HOOKFLOW_API_TOKEN || (local ? localStackToken(env, cwd, readFile) : undefined),
  };
}

function localStackToken(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  readFile: (path: string) => string,
): string | undefined {
  const file = join(resolve(cwd, env.HOOKFLOW_DATA_DIR || ".hookflow"), "secrets.json");
  try {
    const token = (JSON.parse(readFile(file)) as { apiToken?: unknown }).apiToken;
    return typeof token === "string" && token.length > 0 ? token : undefined;
  } catch {
    // No local stack here (or an unreadable file): the API's 401 then says what to set.
    return undefined;
  }
}
