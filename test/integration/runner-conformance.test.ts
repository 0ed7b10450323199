import { access, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { S3LogArchive } from "../../core/adapters/s3/log-archive.js";
import { startFakeKubernetes } from "../fake-kubernetes/index.js";
import { freshBucket, s3Client } from "../helpers/aws.js";
import { baseLaunch, runnerContract } from "../helpers/runner-contract.js";
import { waitFor } from "../helpers/wait.js";

/** The log archive the real runners' logs are kept in: S3 on s3rver, a bucket per test. */
async function s3Archive() {
  const client = s3Client();
  onTestFinished(() => client.destroy());
  return new S3LogArchive(client, await freshBucket());
}

/** The runner contract against the real runners; the in-memory one runs it in test/unit/memory-runner.test.ts. */

runnerContract({
  name: "local runner",
  async setUp() {
    const dataDir = await mkdtemp(join(tmpdir(), "hookflow-conformance-"));
    const gates = await mkdtemp(join(tmpdir(), "hookflow-conformance-gates-"));
    const runner = createLocalRunner({ dataDir, killGraceSeconds: 1 });
    onTestFinished(async () => {
      await runner.stopAll();
      await rm(dataDir, { recursive: true, force: true });
      await rm(gates, { recursive: true, force: true });
    });
    const gateOf = (jobName: string) => join(gates, `${jobName}.sh`);
    const sayOf = (jobName: string) => join(gates, `${jobName}.say`);
    return {
      runner,
      // The task waits for its gate, a script that says how it ends: the test, not a timer, ends it. Meanwhile it
      // prints what the test drops for it to say, and removes it.
      launch: (jobName) =>
        baseLaunch(jobName, {
          kind: "run",
          image: "alpine",
          command: [
            "sh",
            "-c",
            'while [ ! -e "$1" ]; do if [ -e "$2" ]; then cat "$2"; rm -f "$2"; fi; sleep 0.05; done; . "$1"',
            "sh",
            gateOf(jobName),
            sayOf(jobName),
          ],
        }),
      async say(launch, text) {
        const file = sayOf(launch.jobName);
        await writeFile(`${file}.tmp`, text);
        await rename(`${file}.tmp`, file);
        await waitFor(
          () =>
            access(file).then(
              () => false,
              () => true,
            ),
          { what: `${launch.jobName} to print what it was given` },
        );
      },
      taskContainer: "unit",
      archive: s3Archive,
      async end(launch, { log, terminationMessage, exitCode }) {
        const files = join(gates, launch.jobName);
        await writeFile(`${files}.log`, log);
        await writeFile(`${files}.out`, terminationMessage ?? "");
        const script = `cat "${files}.log"; cat "${files}.out" > "$HOOKFLOW_TERMINATION_LOG"; exit ${exitCode}\n`;
        // Whole or not at all: the task must never source half a script.
        await writeFile(`${files}.tmp`, script);
        await rename(`${files}.tmp`, gateOf(launch.jobName));
      },
      created: async () =>
        (await readdir(join(dataDir, "jobs")).catch(() => [])).filter((name) => !name.startsWith(".")).length,
    };
  },
});

// With each client the adapter can use (see connectKubernetes).
for (const client of ["built-in", "client-node"] as const)
  runnerContract({
    name: `Kubernetes runner (${client} client) on the fake API server`,
    async setUp() {
      const fake = await startFakeKubernetes();
      onTestFinished(() => fake.close());
      const runner = await createKubernetesRunner({ kubeconfig: fake.kubeconfig, namespace: "ci", client });
      return {
        runner,
        // A job template with an init container that clones first, as the examples' builds do.
        launch: (jobName) =>
          baseLaunch(jobName, {
            kind: "job",
            template: "build",
            manifest: {
              apiVersion: "batch/v1",
              kind: "Job",
              spec: {
                template: {
                  spec: {
                    restartPolicy: "Never",
                    initContainers: [
                      { name: "clone", image: "alpine/git:2.45.2", command: ["git", "clone", "x"] },
                    ],
                    containers: [{ name: "task", image: "node:22", command: ["sh", "-c", "npm test"] }],
                  },
                },
              },
            },
          }),
        async say(launch, text) {
          fake.writeLog(launch.jobName, text);
        },
        taskContainer: "task",
        initContainer: { name: "clone", log: "Cloning into 'x'...\n" },
        archive: s3Archive,
        async end(launch, { log, terminationMessage, exitCode }) {
          fake.writeLog(launch.jobName, "Cloning into 'x'...\n", "clone");
          const said = { log, ...(terminationMessage !== undefined && { terminationMessage }) };
          if (exitCode === 0) fake.complete(launch.jobName, said);
          else fake.fail(launch.jobName, { reason: "BackoffLimitExceeded", exitCode, ...said });
        },
        created: async () => fake.jobs().length,
      };
    },
  });
