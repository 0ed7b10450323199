import { describe, expect, it } from "vitest";
import { jsonLogger } from "../../core/adapters/system.js";
import { configuredSecrets, loadConfig } from "../../core/config.js";
import { withFields } from "../../core/log-context.js";

function capture(secrets: string[] = []) {
  const lines: Array<Record<string, unknown>> = [];
  const log = jsonLogger({}, (l) => lines.push(JSON.parse(l)), secrets);
  return { log, lines };
}

describe("the structured logger", () => {
  it("writes one JSON object per line with level, time and message", () => {
    const { log, lines } = capture();
    log.warn("effect will be retried", { key: "k" });
    expect(lines).toEqual([
      { level: "warn", time: expect.any(String), message: "effect will be retried", key: "k" },
    ]);
    expect(Number.isNaN(Date.parse(lines[0]?.time as string))).toBe(false);
  });

  it("writes debug lines only when asked (HOOKFLOW_LOG_LEVEL=debug)", () => {
    const { log, lines } = capture();
    log.debug?.("wake-up dropped", { runId: "r1" });
    expect(lines).toEqual([]);
    const written: Array<Record<string, unknown>> = [];
    const level = loadConfig({ HOOKFLOW_LOG_LEVEL: "debug" }).HOOKFLOW_LOG_LEVEL;
    const verbose = jsonLogger({}, (l) => written.push(JSON.parse(l)), [], level === "debug");
    verbose.debug?.("wake-up dropped", { runId: "r1" });
    expect(written).toEqual([
      { level: "debug", time: expect.any(String), message: "wake-up dropped", runId: "r1" },
    ]);
    expect(loadConfig({}).HOOKFLOW_LOG_LEVEL).toBe("info");
  });

  it("adds the fields of the logger a line is written with: children add up, a line's own fields win", () => {
    const { log, lines } = capture();
    const run = withFields(log, { runId: "r1", messageId: "m1" });
    const attempt = withFields(run, { task: "unit", attempt: 2 });
    attempt.info("submitted");
    attempt.warn("retried", { attempt: 3, error: "boom" });
    run.error("applied", { runId: "r2" });
    attempt.debug?.("never written: debug is off");
    log.info("outside");
    expect(lines.map(({ time: _, ...rest }) => rest)).toEqual([
      { level: "info", message: "submitted", runId: "r1", messageId: "m1", task: "unit", attempt: 2 },
      {
        level: "warn",
        message: "retried",
        runId: "r1",
        messageId: "m1",
        task: "unit",
        attempt: 3,
        error: "boom",
      },
      { level: "error", message: "applied", runId: "r2", messageId: "m1" },
      { level: "info", message: "outside" },
    ]);
  });

  it("gives a child a debug line only where its parent has one", () => {
    const written: Array<Record<string, unknown>> = [];
    const verbose = jsonLogger({}, (l) => written.push(JSON.parse(l)), [], true);
    withFields(verbose, { runId: "r1" }).debug?.("wake-up dropped", { at: "t" });
    expect(written).toEqual([
      { level: "debug", time: expect.any(String), message: "wake-up dropped", runId: "r1", at: "t" },
    ]);
    expect(
      withFields({ info: () => {}, warn: () => {}, error: () => {} }, { runId: "r1" }).debug,
    ).toBeUndefined();
  });

  it("never writes a configured secret, wherever it appears, nor a credential field's value", () => {
    const config = loadConfig({
      HOOKFLOW_API_TOKEN: "api-token-1234567890",
      HOOKFLOW_GITHUB_SECRET: 'gh"secret\\with-escapes',
      HOOKFLOW_OIDC_CLIENT_SECRET: "oidc-client-secret",
    });
    const written: string[] = [];
    const log = jsonLogger({}, (l) => written.push(l), configuredSecrets(config));
    // A child's own fields are masked as a line's are.
    const child = withFields(log, { runId: "r1", relayToken: "rt-anything", note: "x api-token-1234567890" });
    child.error('request failed: Bearer api-token-1234567890 and gh"secret\\with-escapes', {
      error: new Error("oidc-client-secret refused").message,
      nested: { list: ["x api-token-1234567890 y"] },
      authorization: "Bearer anything",
      actor: { kind: "person", name: "alice", tokenId: "tok_123" },
    });
    const text = written.join("\n");
    for (const secret of ["api-token-1234567890", 'gh\\"secret', "oidc-client-secret", "anything"])
      expect(text).not.toContain(secret);
    expect(JSON.parse(written[0] as string)).toMatchObject({
      message: "request failed: Bearer ****** and ******",
      error: "****** refused",
      nested: { list: ["x ****** y"] },
      authorization: "******",
      relayToken: "******",
      actor: { kind: "person", name: "alice", tokenId: "tok_123" },
      runId: "r1",
      note: "x ******",
    });
  });
});
