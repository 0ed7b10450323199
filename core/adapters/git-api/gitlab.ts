import type { GitHostApi } from "../../ports.js";
import { type HostOptions, hostCall, pagedList } from "./host.js";
import { decodeBase64, field } from "./http.js";

// GitLab's largest page.
const PER_PAGE = 100;

/**
 * GitLab's REST API v4 (`<instance>/api/v4`): "get a single branch"
 * (GET /projects/:id/repository/branches/:branch), "get file from repository"
 * (GET /projects/:id/repository/files/:file_path?ref=, base64 content) and "list repository tree"
 * (GET /projects/:id/repository/tree?path=&ref=&per_page=), "list merge request diffs"
 * (GET /projects/:id/merge_requests/:merge_request_iid/diffs?page=&per_page=, GitLab 15.7+) and "get a single
 * commit" (GET /projects/:id/repository/commits/:sha?stats=false). `:id` is the URL-encoded path_with_namespace
 * (subgroups included), `:branch` and `:file_path` are URL-encoded whole ("a/b.yaml" → "a%2Fb.yaml").
 */
export function createGitlabApi(options: HostOptions): GitHostApi {
  const call = hostCall(options, "HOOKFLOW_GITLAB_API_TOKEN", { "private-token": options.token });
  const project = (repository: string) => `/api/v4/projects/${encodeURIComponent(repository)}`;
  return {
    provider: "gitlab",
    async branchHead(repository, branch) {
      const body = (await call.get(
        `${project(repository)}/repository/branches/${encodeURIComponent(branch)}`,
      )) as { commit?: { id?: string; message?: string; author_name?: string } } | undefined;
      if (!body) return undefined;
      const commit = field(body.commit, "commit", call.target);
      return {
        commit: field(commit.id, "commit.id", call.target),
        message: commit.message ?? "",
        author: commit.author_name ?? "",
      };
    },
    async readFile(repository, commit, path) {
      const body = (await call.get(
        `${project(repository)}/repository/files/${encodeURIComponent(path)}?ref=${encodeURIComponent(commit)}`,
      )) as { content?: string; encoding?: string } | undefined;
      if (!body) return undefined;
      return decodeBase64(body.content, body.encoding, call.target);
    },
    async listDirectory(repository, commit, path) {
      const query = `path=${encodeURIComponent(path)}&ref=${encodeURIComponent(commit)}&per_page=100`;
      const body = await call.get(`${project(repository)}/repository/tree?${query}`);
      if (!Array.isArray(body)) return undefined;
      return (body as Array<{ name?: string; path?: string; type?: string }>).map((entry) => ({
        name: field(entry.name, "name", call.target),
        path: field(entry.path, "path", call.target),
        kind: entry.type === "blob" ? "file" : entry.type === "tree" ? "directory" : "other",
      }));
    },
    async pullRequestFiles(repository, number, limit) {
      const entries = await pagedList<{ old_path?: string; new_path?: string }>(
        (page) =>
          call.get(`${project(repository)}/merge_requests/${number}/diffs?page=${page}&per_page=${PER_PAGE}`),
        { perPage: PER_PAGE, limit, exact: true, target: call.target },
      );
      // A diff names its file before and after: both, once, when it was renamed.
      return entries?.flatMap((entry) => {
        const after = field(entry.new_path, "new_path", call.target);
        return entry.old_path && entry.old_path !== after ? [after, entry.old_path] : [after];
      });
    },
    async commitMessage(repository, commit) {
      const body = (await call.get(
        `${project(repository)}/repository/commits/${encodeURIComponent(commit)}?stats=false`,
      )) as { message?: string } | undefined;
      return body && field(body.message, "message", call.target);
    },
  };
}
