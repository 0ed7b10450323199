import type { GitHostApi } from "../../ports.js";
import { type HostOptions, hostCall } from "./host.js";
import { decodeBase64, encodePath, field, ownerAndName } from "./http.js";

/**
 * GitHub's REST API (api.github.com, or GitHub Enterprise Server's https://host/api/v3): "get a branch"
 * (GET /repos/{owner}/{repo}/branches/{branch}) and "get repository content"
 * (GET /repos/{owner}/{repo}/contents/{path}?ref=, a file object or, for a directory, an array of entries).
 */
export function createGithubApi(options: HostOptions & { webUrl?: string }): GitHostApi {
  const call = hostCall(options, "HOOKFLOW_GITHUB_TOKEN", {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${options.token}`,
    "x-github-api-version": "2022-11-28",
    // GitHub refuses requests without a User-Agent.
    "user-agent": "hookflow",
  });
  const repo = (repository: string) => {
    const [owner, name] = ownerAndName(repository, call.target);
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  };
  const contents = (repository: string, commit: string, path: string) =>
    call.get(`${repo(repository)}/contents/${encodePath(path)}?ref=${encodeURIComponent(commit)}`);

  return {
    provider: "github",
    async branchHead(repository, branch) {
      const body = (await call.get(`${repo(repository)}/branches/${encodeURIComponent(branch)}`)) as
        | { commit?: { sha?: string; commit?: { message?: string; author?: { name?: string } | null } } }
        | undefined;
      if (!body) return undefined;
      const commit = field(body.commit, "commit", call.target);
      return {
        commit: field(commit.sha, "commit.sha", call.target),
        message: commit.commit?.message ?? "",
        author: commit.commit?.author?.name ?? "",
      };
    },
    async readFile(repository, commit, path) {
      const body = (await contents(repository, commit, path)) as
        | { type?: string; content?: string; encoding?: string }
        | unknown[]
        | undefined;
      if (!body || Array.isArray(body) || body.type !== "file") return undefined;
      return decodeBase64(body.content, body.encoding, call.target);
    },
    async listDirectory(repository, commit, path) {
      const body = await contents(repository, commit, path);
      if (!Array.isArray(body)) return undefined;
      return (body as Array<{ name?: string; path?: string; type?: string }>).map((entry) => ({
        name: field(entry.name, "name", call.target),
        path: field(entry.path, "path", call.target),
        kind: entry.type === "file" ? "file" : entry.type === "dir" ? "directory" : "other",
      }));
    },
    cloneUrl: (repository) =>
      `${(options.webUrl ?? "https://github.com").replace(/\/+$/, "")}/${repository}.git`,
  };
}
