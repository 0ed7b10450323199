import { userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { runCli } from "./program.js";

// `hookflow runs | head` closes the pipe early: that is the reader being done, not an error.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  fetch: globalThis.fetch,
  sleep: (ms) => sleep(ms),
  now: () => Date.now(),
  userName: () => {
    try {
      return userInfo().username;
    } catch {
      // A container user without a passwd entry has no name; --by or HOOKFLOW_USER must say who.
      return undefined;
    }
  },
});
