import type { Command } from "commander";
import type { CommandEnv } from "../context.js";

/**
 * `hookflow relay`: the in-cluster watcher (core/relay) that reports hookflow's Jobs to hookflow as they change.
 * It runs until SIGTERM or SIGINT (a Deployment's pod being stopped), then stops watching.
 */
export function registerRelay(program: Command, env: CommandEnv): void {
  program
    .command("relay")
    .description(
      "watch hookflow's Jobs in HOOKFLOW_NAMESPACE and report each change to HOOKFLOW_URL with HOOKFLOW_RELAY_TOKEN (runs in the cluster)",
    )
    .action(async () => {
      const { io } = env.context();
      const [{ startRelay }, { jsonLogger }] = await Promise.all([
        import("../../relay/main.js"),
        import("../../adapters/system.js"),
      ]);
      const token = io.env.HOOKFLOW_RELAY_TOKEN;
      const log = jsonLogger(
        { component: "relay" },
        (line) => io.stdout.write(`${line}\n`),
        token ? [token] : [],
      );
      const relay = await startRelay(io.env, log);
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      await relay.stop();
    });
}
