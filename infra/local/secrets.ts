import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import { schema } from "../../core/model/schema.js";
import { PRIVATE_FILE_MODE, privateDir, tightenFile } from "./private-files.js";

const LocalSecrets = /* @__PURE__ */ schema(() =>
  z.object({
    apiToken: z.string().check(z.minLength(16)),
    tokenSecret: z.string().check(z.minLength(16)),
    githubSecret: z.string().check(z.minLength(16)),
    gitlabToken: z.string().check(z.minLength(16)),
    giteaSecret: z.string().check(z.minLength(16)),
  }),
);
export type LocalSecrets = z.infer<typeof LocalSecrets>;

export const secretsFile = (dataDir: string) => join(dataDir, "secrets.json");

/** The secrets a local stack keeps in `dataDir`, if one was started there. */
export function readSecrets(dataDir: string): LocalSecrets | undefined {
  const file = secretsFile(dataDir);
  return existsSync(file) ? LocalSecrets.parse(JSON.parse(readFileSync(file, "utf8"))) : undefined;
}

/**
 * The local stack's secrets: generated on first start and kept in the data directory (readable by its owner
 * only), so that a restart keeps the same API token and webhook secrets.
 */
export function loadOrCreateSecrets(dataDir: string): LocalSecrets {
  const file = secretsFile(dataDir);
  const kept = readSecrets(dataDir);
  if (kept) {
    tightenFile(file);
    return kept;
  }
  const random = () => randomBytes(24).toString("base64url");
  const secrets: LocalSecrets = {
    apiToken: random(),
    tokenSecret: random(),
    githubSecret: random(),
    gitlabToken: random(),
    giteaSecret: random(),
  };
  privateDir(dataDir);
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  return secrets;
}
