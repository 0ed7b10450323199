import type { GitHostApi } from "../../ports.js";
import { contentsApi, pullRequestFilesApi } from "./github-like.js";
import { type HostOptions, hostCall } from "./host.js";
import { field, ownerAndName } from "./http.js";

// Gitea's default MAX_RESPONSE_ITEMS; an instance set lower serves shorter pages, which pagedList allows for.
const PER_PAGE = 50;

/**
 * Gitea's API v1 (`<instance>/api/v1`): "retrieve a specific branch" (GET /repos/{owner}/{repo}/branches/{branch}),
 * "get the metadata and contents of an entry" and "get changed files for a pull request"
 * (GET /repos/{owner}/{repo}/pulls/{index}/files?page=&limit=; see github-like.ts), and "get a single commit"
 * (GET /repos/{owner}/{repo}/git/commits/{sha}, asked without its stats, verification and files).
 */
export function createGiteaApi(options: HostOptions): GitHostApi {
  const call = hostCall(options, "HOOKFLOW_GITEA_TOKEN", { authorization: `token ${options.token}` });
  const repo = (repository: string) => {
    const [owner, name] = ownerAndName(repository, call.target);
    return `/api/v1/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  };
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
    ...contentsApi(call, repo),
    ...pullRequestFilesApi(call, repo, {
      perPage: PER_PAGE,
      exact: false,
      pageQuery: (page) => `page=${page}&limit=${PER_PAGE}`,
    }),
    async commitMessage(repository, commit) {
      const query = "stat=false&verification=false&files=false";
      const body = (await call.get(
        `${repo(repository)}/git/commits/${encodeURIComponent(commit)}?${query}`,
      )) as { commit?: { message?: string } } | undefined;
      return body && field(body.commit?.message, "commit.message", call.target);
    },
  };
}
