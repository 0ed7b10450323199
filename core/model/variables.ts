/**
 * Variables: what every task sees in its environment, and `${NAME}` references in definitions.
 *
 * Values from a webhook or a callback are untrusted: they reach a task as environment values, and are never
 * substituted into a container's command or args (see `UNTRUSTED_VARIABLES`).
 */

export const SYSTEM_VARIABLES = [
  "HOOKFLOW_RUN_ID",
  "HOOKFLOW_PIPELINE",
  "HOOKFLOW_TASK",
  "HOOKFLOW_CALLBACK_URL",
  "HOOKFLOW_TASK_TOKEN",
  /** Finally tasks only: `succeeded` or `failed`, how the stages before them ended. */
  "HOOKFLOW_RUN_STATUS",
  "GIT_PROVIDER",
  "GIT_REPOSITORY",
  "GIT_CLONE_URL",
  "GIT_REF",
  "GIT_BRANCH",
  "GIT_TAG",
  "GIT_COMMIT",
  "GIT_COMMIT_MESSAGE",
  "GIT_AUTHOR",
  "APP_VERSION",
  /** A pull request's number (GitLab: the merge request's IID); empty for other runs. */
  "GIT_PULL_REQUEST",
  /** The branch a pull request would merge into; empty for other runs. */
  "GIT_BASE_BRANCH",
] as const;
export type SystemVariable = (typeof SYSTEM_VARIABLES)[number];

/** Variables known when a run is created (everything but the per-task ones). */
export const RUN_VARIABLES: readonly SystemVariable[] = SYSTEM_VARIABLES.filter(
  (v) =>
    v !== "HOOKFLOW_TASK" &&
    v !== "HOOKFLOW_CALLBACK_URL" &&
    v !== "HOOKFLOW_TASK_TOKEN" &&
    v !== "HOOKFLOW_RUN_STATUS",
);

/**
 * Chosen by whoever pushes: branch and tag names, messages, authors. APP_VERSION and GIT_COMMIT are not here:
 * hookflow builds APP_VERSION from a safe alphabet and GIT_COMMIT is checked to be hex.
 */
export const UNTRUSTED_VARIABLES: ReadonlySet<string> = new Set([
  "GIT_REF",
  "GIT_BRANCH",
  "GIT_TAG",
  "GIT_COMMIT_MESSAGE",
  "GIT_AUTHOR",
  "GIT_CLONE_URL",
  "GIT_BASE_BRANCH",
]);

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Output keys that become variables of later tasks. */
export const OUTPUT_VARIABLE_NAME = /^[A-Z_][A-Z0-9_]*$/;

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Names referenced as `${NAME}` in a string. */
export function referencesIn(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((match) => match[1] as string);
}

/**
 * Replaces `${NAME}` with `lookup(NAME)` when it returns a string and leaves the reference as written otherwise
 * (a shell in the container may still expand it from the environment). One pass: a substituted value is never
 * scanned again, so a value cannot smuggle in a reference.
 */
export function substitute(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(REFERENCE, (whole, name: string) => lookup(name) ?? whole);
}

/** Every string in a JSON-like value, with its path. */
export function* stringsIn(value: unknown, path: PropertyKey[] = []): Generator<[string, PropertyKey[]]> {
  if (typeof value === "string") yield [value, path];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* stringsIn(v, [...path, i]);
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) yield* stringsIn(v, [...path, k]);
}

/**
 * Environment names that steer a process rather than inform it: an earlier task's output may never set them,
 * since a later task (a deploy holding secrets) would run code or trust what its author chose. Compared in upper
 * case, so `http_proxy` is `HTTP_PROXY`. Each family says why.
 */
const PROCESS_CONTROL_NAMES: ReadonlySet<string> = new Set([
  // Which programs run and how a shell starts: PATH lookup, startup files, word splitting, prompts and traces
  // that run commands, shell options.
  "PATH",
  "HOME",
  "SHELL",
  "ENV",
  "BASH_ENV",
  "CDPATH",
  "GLOBIGNORE",
  "IFS",
  "SHELLOPTS",
  "BASHOPTS",
  "PS1",
  "PS2",
  "PS3",
  "PS4",
  "PROMPT_COMMAND",
  "HISTFILE",
  "INPUTRC",
  "ZDOTDIR",
  "EDITOR",
  "VISUAL",
  "PAGER",
  "MANPAGER",
  "LESSOPEN",
  "LESSCLOSE",
  // glibc ignores these for setuid programs because they load code or files of the caller's choosing.
  "GCONV_PATH",
  "GETCONF_DIR",
  "HOSTALIASES",
  "LOCALDOMAIN",
  "LOCPATH",
  "MALLOC_TRACE",
  "NIS_PATH",
  "NLSPATH",
  "RESOLV_HOST_CONF",
  "RES_OPTIONS",
  "TZDIR",
  // Where temporary files go: a shared or prepared directory lets one task plant files another trusts.
  "TMPDIR",
  "TMP",
  "TEMP",
  // Language runtimes: options and module paths that load code at start-up.
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "CLASSPATH",
  "MAVEN_OPTS",
  "GRADLE_OPTS",
  "RUBYOPT",
  "RUBYLIB",
  "PERLLIB",
  "GOFLAGS",
  "GOPROXY",
  "GOPRIVATE",
  "GONOPROXY",
  "GONOSUMDB",
  "GOSUMDB",
  "GOINSECURE",
  "GOTOOLCHAIN",
  "GOENV",
  "GOROOT",
  "GOPATH",
  "RUSTFLAGS",
  "RUSTC_WRAPPER",
  "CC",
  "CXX",
  "CFLAGS",
  "LDFLAGS",
  "MAKEFLAGS",
  // Trust and routing of network traffic: a proxy sees every request, a CA file decides what is trusted.
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "ALL_PROXY",
  "NO_PROXY",
  "FTP_PROXY",
  "CURL_CA_BUNDLE",
  "REQUESTS_CA_BUNDLE",
  "CURL_HOME",
  "WGETRC",
  // Credentials and the cluster or cloud a tool talks to.
  "KUBECONFIG",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "SSH_ASKPASS",
  "SSH_AUTH_SOCK",
]);

const PROCESS_CONTROL_PREFIXES: readonly string[] = [
  // The dynamic loader (glibc, musl) and macOS's: LD_PRELOAD, LD_LIBRARY_PATH, DYLD_INSERT_LIBRARIES load code.
  "LD_",
  "DYLD_",
  // bash's own variables (BASH_FUNC_* exports functions, BASH_XTRACEFD, BASH_LOADABLES_PATH).
  "BASH_",
  // Node (NODE_OPTIONS --require, NODE_PATH, NODE_EXTRA_CA_CERTS, NODE_TLS_REJECT_UNAUTHORIZED), npm and yarn
  // (a registry, scripts, a userconfig), Python (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME), Perl (PERL5LIB,
  // PERL5OPT), Ruby gems and bundler, Cargo, .NET, cgo.
  "NODE_",
  "NPM_CONFIG_",
  "YARN_",
  "PYTHON",
  "PERL5",
  "GEM_",
  "BUNDLE_",
  "CARGO_",
  "DOTNET_",
  "CGO_",
  // git runs commands from these (GIT_SSH_COMMAND, GIT_ASKPASS, GIT_CONFIG_*, GIT_EXEC_PATH); GIT_* are also
  // hookflow's system variables.
  "GIT_",
  // hookflow's own: run identity, callback URL and token.
  "HOOKFLOW_",
  // TLS trust (SSL_CERT_FILE, SSL_CERT_DIR).
  "SSL_CERT_",
  // Cloud and tool credentials and endpoints (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, DOCKER_HOST, DOCKER_CONFIG,
  // CLOUDSDK_*, AZURE_*), and where tools look for their configuration (XDG_CONFIG_HOME).
  "AWS_",
  "DOCKER_",
  "CLOUDSDK_",
  "AZURE_",
  "XDG_",
];

/** Whether an environment name steers a process (see `PROCESS_CONTROL_NAMES`); any case. */
export function isProcessControlName(name: string): boolean {
  const upper = name.toUpperCase();
  return PROCESS_CONTROL_NAMES.has(upper) || PROCESS_CONTROL_PREFIXES.some((p) => upper.startsWith(p));
}

/**
 * C0 control characters other than tab and newline, and DEL. They have no place in a definition: a NUL cuts a
 * value short where it becomes a C string (an env value, an argv entry) and fails the task only when it runs;
 * a carriage return or an escape sequence hides text from whoever reads the definition or a log.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this is for.
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Every key and string of a definition holding a control character, as `[path, message]` pairs. */
export function* controlCharactersIn(
  value: unknown,
  path: PropertyKey[] = [],
): Generator<[PropertyKey[], string]> {
  const found = (text: string) => {
    const match = CONTROL_CHARACTER.exec(text);
    return match
      ? `holds the control character U+${(match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}; only tab and newline are allowed`
      : undefined;
  };
  if (typeof value === "string") {
    const problem = found(value);
    if (problem) yield [path, problem];
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* controlCharactersIn(item, [...path, i]);
  } else if (value !== null && typeof value === "object")
    for (const [key, item] of Object.entries(value)) {
      const problem = found(key);
      if (problem) yield [[...path, key], `its name ${problem}`];
      yield* controlCharactersIn(item, [...path, key]);
    }
}
