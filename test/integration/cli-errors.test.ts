import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_TOKEN, cliStack } from "../helpers/cli.js";

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return port;
}

describe("what the CLI says when it cannot do its work", () => {
  it("explains a refused token, an unreachable API and an unknown run; finds the local stack's token", async () => {
    const { cli, applyFixtures } = await cliStack();
    await applyFixtures();
    const refused = await cli(["pipelines"], { HOOKFLOW_API_TOKEN: "wrong-token" });
    expect(refused).toMatchObject({
      code: 1,
      stdout: "",
      stderr:
        "error: the API refused the token: run `hookflow login`, or set HOOKFLOW_API_TOKEN (npm start prints it) (it said: the token is neither HOOKFLOW_API_TOKEN nor a token from POST /api/tokens)\n",
    });
    expect((await cli(["pipelines"], { HOOKFLOW_API_TOKEN: undefined })).code).toBe(1);

    const stackDir = mkdtempSync(join(tmpdir(), "hookflow-cli-stack-"));
    try {
      writeFileSync(join(stackDir, "secrets.json"), JSON.stringify({ apiToken: CLI_TOKEN }));
      const fromFile = await cli(["pipelines"], {
        HOOKFLOW_API_TOKEN: undefined,
        HOOKFLOW_DATA_DIR: stackDir,
      });
      expect(fromFile.code).toBe(0);
      expect(fromFile.stdout).toContain("hello");
    } finally {
      rmSync(stackDir, { recursive: true, force: true });
    }

    const closed = await closedPort();
    const unreachable = await cli(["runs"], { HOOKFLOW_URL: `http://127.0.0.1:${closed}` });
    expect(unreachable).toMatchObject({
      code: 1,
      stderr: `error: cannot reach hookflow at http://127.0.0.1:${closed} (is it running? set HOOKFLOW_URL)\n`,
    });
    expect(await cli(["status", "nope"])).toMatchObject({ code: 1, stderr: "error: no run nope\n" });
  });

  it("never prints the token, in answers or in errors (every command the CLI tests run is checked too)", async () => {
    const { cli, applyFixtures, startRun } = await cliStack();
    await applyFixtures();
    const id = await startRun("hello", "-p", "WHO=world");
    const outputs = await Promise.all(
      [
        ["pipelines", "--json"],
        ["status", id],
        ["runs", "--json"],
        ["status", "nope"],
        ["logs", id, "nope"],
      ].map((args) => cli(args)),
    );
    expect(outputs.map((o) => o.code)).toEqual([0, 0, 0, 1, 1]);
    for (const { stdout, stderr } of outputs) expect(`${stdout}${stderr}`).not.toContain(CLI_TOKEN);
  });
});
