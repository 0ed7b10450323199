import { Command, CommanderError } from "commander";
import { CliError } from "./client.js";
import { registerControl } from "./commands/control.js";
import { registerDefinitions } from "./commands/definitions.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerLogin } from "./commands/login.js";
import { registerLogs } from "./commands/logs.js";
import { registerRelay } from "./commands/relay.js";
import { registerRuns } from "./commands/runs.js";
import { DEFAULT_URL } from "./config.js";
import { type CliIo, createContext } from "./context.js";
import { visible } from "./visible.js";

export type { CliIo } from "./context.js";

/** Exit codes: 0 done, 1 failed (the API said no, it could not be reached, a watched run failed), 2 misuse. */
const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Runs one command line (without `node` and the script) and resolves to its exit code; never exits itself. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version asked for exit 0; every other complaint of commander's is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    // An error may quote the API, which may quote a delivery: each line is shown with its controls escaped.
    const shown = (text: string) => text.split("\n").map(visible).join("\n");
    if (error instanceof CliError) {
      io.stderr.write(`error: ${shown(error.message)}\n`);
      return error.exitCode;
    }
    const detail = io.env.HOOKFLOW_DEBUG && error instanceof Error ? error.stack : String(error);
    io.stderr.write(`error: ${shown(detail ?? "")}\n`);
    return EXIT.failed;
  }
}

const ENVIRONMENT_HELP = `
Environment:
  HOOKFLOW_URL        the API (default ${DEFAULT_URL})
  HOOKFLOW_API_TOKEN  its bearer token (default: the one \`hookflow login\` kept for
                      HOOKFLOW_URL, else the one \`npm start\` keeps in
                      \${HOOKFLOW_DATA_DIR:-.hookflow}/secrets.json); it says who acts
  HOOKFLOW_CONFIG_DIR where \`hookflow login\` keeps tokens (default ~/.config/hookflow)
  NO_COLOR            no colours even on a terminal

Exit codes: 0 done, 1 failed (refused, unreachable, a watched run that failed), 2 usage.`;

function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command("hookflow")
    .description("Manage hookflow pipelines, job templates and runs through its API.")
    .addHelpText("after", ENVIRONMENT_HELP)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError("(add --help for usage)")
    .helpCommand(true);
  const env = { context: () => createContext(io), setExitCode };
  registerDefinitions(program, env);
  registerRuns(program, env);
  registerLogs(program, env);
  registerControl(program, env);
  registerLogin(program, env);
  registerRelay(program, env);
  registerDoctor(program, env);
  return program;
}
