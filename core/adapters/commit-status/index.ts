export { giteaStatusRequest } from "./gitea.js";
export {
  GITHUB_API_URL,
  GITHUB_API_VERSION,
  GITHUB_DESCRIPTION_CHARS,
  githubRefusal,
  githubStatusRequest,
} from "./github.js";
export { GITLAB_STATES, GITLAB_URL, gitlabAlreadyInState, gitlabStatusRequest } from "./gitlab.js";
export {
  type CommitStatusReporterOptions,
  createCommitStatusReporter,
  type ProviderAwareCommitStatusReporter,
} from "./reporter.js";
