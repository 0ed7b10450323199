import { describe, expect, it } from "vitest";
import { createCommitStatusReporter } from "../../core/adapters/commit-status/index.js";
import { PermanentError } from "../../core/errors.js";
import type { CommitStatus } from "../../core/ports.js";
import { caught } from "../receivers/fixtures.js";

const SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8";
const TOKENS = { githubToken: "ghp_test", gitlabToken: "glpat-test" };
const status = (overrides: Partial<CommitStatus> = {}): CommitStatus => ({
  provider: "github",
  repository: "acme/web-app",
  commit: SHA,
  state: "pending",
  context: "hookflow/web-app",
  description: "Run 01jd7k2m9qf3x8 is running",
  targetUrl: "https://hookflow.example.com/api/runs/01jd7k2m9qf3x8",
  ...overrides,
});

/** A reporter whose requests are recorded and answered 201, never sent. */
function recordingReporter() {
  const seen: string[] = [];
  const fetch = (async (url: string | URL | Request) => {
    seen.push(String(url));
    return new Response("{}", { status: 201 });
  }) as typeof globalThis.fetch;
  return { seen, reporter: createCommitStatusReporter({ ...TOKENS, fetch }) };
}

describe("commit statuses before any request", () => {
  it("defaults to the public APIs", async () => {
    const { seen, reporter } = recordingReporter();
    await reporter.report(status());
    await reporter.report(status({ provider: "gitlab" }));
    expect(seen).toEqual([
      `https://api.github.com/repos/acme/web-app/statuses/${SHA}`,
      `https://gitlab.com/api/v4/projects/acme%2Fweb-app/statuses/${SHA}`,
    ]);
  });

  it("gitea is not supported even with tokens for the others", () => {
    expect(recordingReporter().reporter.enabledFor("gitea")).toBe(false);
  });

  it("a repository that is not owner/name is permanent, before any request", async () => {
    const { seen, reporter } = recordingReporter();
    expect(await caught(reporter.report(status({ repository: "acme" })))).toBeInstanceOf(PermanentError);
    expect(seen).toEqual([]);
  });
});
