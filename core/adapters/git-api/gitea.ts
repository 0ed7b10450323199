import type { GitHostApi } from "../../ports.js";
import { type HostOptions, hostCall } from "./host.js";
import { decodeBase64, encodePath, field, ownerAndName } from "./http.js";

/**
 * Gitea's API v1 (`<instance>/api/v1`): "retrieve a specific branch" (GET /repos/{owner}/{repo}/branches/{branch})
 * and "get the metadata and contents (if a file) of an entry in a repository, or a list of entries if a dir"
 * (GET /repos/{owner}/{repo}/contents/{filepath}?ref=).
 */
export function createGiteaApi(options: HostOptions): GitHostApi {
  const call = hostCall(options, "HOOKFLOW_GITEA_TOKEN", { authorization: `token ${options.token}` });
  const repo = (repository: string) => {
    const [owner, name] = ownerAndName(repository, call.target);
    return `/api/v1/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  };
  const contents = (repository: string, commit: string, path: string) =>
    call.get(`${repo(repository)}/contents/${encodePath(path)}?ref=${encodeURIComponent(commit)}`);
  return {
    provider: "gitea",
    async branchHead(repository, branch) {
      const body = (await call.get(`${repo(repository)}/branches/${encodeURIComponent(branch)}`)) as
        | { commit?: { id?: string; message?: string; author?: { name?: string } | null } }
        | undefined;
      if (!body) return undefined;
      const commit = field(body.commit, "commit", call.target);
      return {
        commit: field(commit.id, "commit.id", call.target),
        message: commit.message ?? "",
        author: commit.author?.name ?? "",
      };
    },
    async readFile(repository, commit, path) {
      const body = (await contents(repository, commit, path)) as
        | { type?: string; content?: string | null; encoding?: string | null }
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
    cloneUrl: (repository) => `${options.baseUrl.replace(/\/+$/, "")}/${repository}.git`,
  };
}
