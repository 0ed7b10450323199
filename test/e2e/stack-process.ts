import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "../../infra/local/emulators.js";
import { waitFor } from "../helpers/wait.js";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface StackProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Ctrl-C: SIGINT to the whole process group, as a terminal sends it; resolves once the stack says it stopped. */
  interrupt(): Promise<void>;
}

/** Starts the local stack as a user does, in its own process group, and waits until it says it is ready. */
export async function startStackProcess(
  command: string[],
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<StackProcess> {
  const port = await freePort();
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), NO_COLOR: "1", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(() => output.includes(`hookflow ready at ${url}`) || child.exitCode !== null, {
      what: () => `the stack to start; it said:\n${output}`,
      timeoutMs,
      everyMs: 100,
    });
  } finally {
    if (!output.includes(`hookflow ready at ${url}`) && child.exitCode === null)
      process.kill(-(child.pid as number), "SIGKILL");
  }
  if (!output.includes(`hookflow ready at ${url}`)) throw new Error(`the stack did not start:\n${output}`);
  return {
    child,
    url,
    output: () => output,
    interrupt: async () => {
      if (child.exitCode === null) process.kill(-(child.pid as number), "SIGINT");
      await exited;
      // npm exits on the signal itself; the stack it started finishes stopping on its own.
      await waitFor(() => output.includes("\nstopped"), {
        what: () => `the stack to stop; it said:\n${output.slice(-2000)}`,
        timeoutMs: 30_000,
      });
    },
  };
}

/** Whether a DynamoDB Local JVM for this data directory is still running. */
export async function jvmRunningFor(dataDir: string): Promise<boolean> {
  const { execFileSync } = await import("node:child_process");
  const list = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  return list.split("\n").some((line) => line.includes("DynamoDBLocal") && line.includes(dataDir));
}
