import { chmodSync, existsSync, mkdirSync } from "node:fs";

/**
 * The local stack's data directory holds DynamoDB Local's file (pipelines with robot URLs and notifier
 * secrets), the generated secrets and the local tasks' logs: readable by its owner only, like `runner/`. A
 * directory or file that already exists with a looser mode (made by an earlier version, or by hand) is
 * tightened, since creating it with a mode does nothing to one that is there.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(path, PRIVATE_DIR_MODE);
  return path;
}

export function tightenFile(path: string): void {
  if (existsSync(path)) chmodSync(path, PRIVATE_FILE_MODE);
}
