import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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
    token:
      env.HOOKFLOW_API_TOKEN ||
      storedLogin(env, baseUrl, readFile) ||
      (local ? localStackToken(env, cwd, readFile) : undefined),
  };
}

/** Where `hookflow login` keeps its tokens: one per hookflow URL, in a file only the user can read. */
export function credentialsFile(env: Readonly<Record<string, string | undefined>>): string {
  const dir =
    env.HOOKFLOW_CONFIG_DIR ||
    join(env.XDG_CONFIG_HOME || join(env.HOME || env.USERPROFILE || ".", ".config"), "hookflow");
  return join(dir, "credentials.json");
}

function storedLogin(
  env: Readonly<Record<string, string | undefined>>,
  baseUrl: string,
  readFile: (path: string) => string,
): string | undefined {
  try {
    const stored = JSON.parse(readFile(credentialsFile(env))) as Record<string, { token?: unknown }>;
    const token = stored[baseUrl.replace(/\/+$/, "")]?.token;
    return typeof token === "string" && token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps the token `hookflow login` got for `baseUrl` (mode 0600: it acts as the person). */
export function storeLogin(
  env: Readonly<Record<string, string | undefined>>,
  baseUrl: string,
  entry: { token: string; name: string; expiresAt: string },
): string {
  const file = credentialsFile(env);
  let stored: Record<string, unknown> = {};
  try {
    stored = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    // First login on this machine.
  }
  stored[baseUrl.replace(/\/+$/, "")] = entry;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
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
