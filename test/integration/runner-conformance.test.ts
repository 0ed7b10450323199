import { mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { createLocalRunner } from "../../core/adapters/local-runner.js";
import { startFakeKubernetes } from "../fake-kubernetes/index.js";
import { baseLaunch, runnerContract } from "../helpers/runner-contract.js";

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
    return {
      runner,
      // The task waits for its gate, a script that says how it ends: the test, not a timer, ends it.
      launch: (jobName) =>
        baseLaunch(jobName, {
          kind: "run",
          image: "alpine",
          command: ["sh", "-c", 'while [ ! -e "$1" ]; do sleep 0.05; done; . "$1"', "sh", gateOf(jobName)],
        }),
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

runnerContract({
  name: "Kubernetes runner on the fake API server",
  async setUp() {
    const fake = await startFakeKubernetes();
    onTestFinished(() => fake.close());
    const runner = createKubernetesRunner({ kubeconfig: fake.kubeconfig, namespace: "ci" });
    return {
      runner,
      launch: (jobName) =>
        baseLaunch(jobName, { kind: "run", image: "node:22", command: ["sh", "-c", "npm test"] }),
      async end(launch, { log, terminationMessage, exitCode }) {
        const said = { log, ...(terminationMessage !== undefined && { terminationMessage }) };
        if (exitCode === 0) fake.complete(launch.jobName, said);
        else fake.fail(launch.jobName, { reason: "BackoffLimitExceeded", exitCode, ...said });
      },
      created: async () => fake.jobs().length,
    };
  },
});
