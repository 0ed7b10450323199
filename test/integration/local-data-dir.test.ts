import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startDynamoLocal } from "../../infra/local/emulators.js";
import { privateDir } from "../../infra/local/private-files.js";
import { loadOrCreateSecrets, secretsFile } from "../../infra/local/secrets.js";

const root = mkdtempSync(join(tmpdir(), "hookflow-data-dir-"));
const modeOf = (path: string) => statSync(path).mode & 0o777;

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the local stack's data directory is its owner's only", () => {
  it("creates the directory 0700, and tightens one that exists with a looser mode", () => {
    const fresh = join(root, "fresh", ".hookflow");
    privateDir(fresh);
    expect(modeOf(fresh)).toBe(0o700);

    const loose = join(root, "loose");
    mkdirSync(loose, { mode: 0o755 });
    chmodSync(loose, 0o755);
    privateDir(loose);
    expect(modeOf(loose)).toBe(0o700);
  });

  it("writes the generated secrets 0600, and tightens a kept secrets file readable by others", () => {
    const dir = join(root, "secrets");
    loadOrCreateSecrets(dir);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(secretsFile(dir))).toBe(0o600);

    const kept = join(root, "kept");
    mkdirSync(kept, { mode: 0o755 });
    const secrets = { apiToken: "a".repeat(16), tokenSecret: "b".repeat(16), githubSecret: "c".repeat(16) };
    writeFileSync(
      secretsFile(kept),
      JSON.stringify({ ...secrets, gitlabToken: "d".repeat(16), giteaSecret: "e".repeat(16) }),
      { mode: 0o644 },
    );
    chmodSync(secretsFile(kept), 0o644);
    expect(loadOrCreateSecrets(kept).apiToken).toBe(secrets.apiToken);
    expect(modeOf(secretsFile(kept))).toBe(0o600);
  });

  it("keeps DynamoDB Local's files in a 0700 directory, even one made earlier with 0755", async () => {
    const dir = join(root, "dynamodb");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const dynamo = await startDynamoLocal({ dataDir: dir });
    try {
      expect(modeOf(dir)).toBe(0o700);
      expect(modeOf(join(dir, "dynamodb-local.pid"))).toBe(0o600);
    } finally {
      await dynamo.stop();
    }
  });
});
