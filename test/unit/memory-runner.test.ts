import { describe, expect, it } from "vitest";
import { MemoryLogArchive } from "../helpers/memory-archive.js";
import { MemoryRunner, RunnerContractViolation } from "../helpers/memory-runner.js";
import { baseLaunch, refOf, runnerContract } from "../helpers/runner-contract.js";

const launchOf = (jobName: string) =>
  baseLaunch(jobName, { kind: "run", image: "node:22", command: ["npm", "test"] });

runnerContract({
  name: "in-memory runner",
  async setUp() {
    const runner = new MemoryRunner();
    // As a real runner's attempt does, it starts on its own, having printed nothing yet.
    runner.onSubmit = (launch) => runner.set(launch.jobName, { state: "running" }, "");
    return {
      runner,
      launch: launchOf,
      async end(launch, { log, terminationMessage, exitCode }) {
        runner.write(launch.jobName, log);
        runner.set(
          launch.jobName,
          exitCode === 0
            ? { state: "succeeded", ...(terminationMessage && { terminationMessage }) }
            : { state: "failed", message: `exited with code ${exitCode}`, terminationMessage: log },
        );
      },
      created: async () => runner.jobs.size,
      say: async (launch, text) => runner.write(launch.jobName, text),
      taskContainer: "unit",
      archive: async () => new MemoryLogArchive(),
    };
  },
});

/** The fake refuses what the contract forbids, so that a service that breaks it fails its own tests. */
describe("the in-memory runner refuses what the contract forbids", () => {
  it("submitting a canceled attempt again", async () => {
    const runner = new MemoryRunner();
    const launch = launchOf("hf-unit-1");
    await runner.submit(launch);
    await runner.cancel(refOf(launch));
    await expect(runner.submit(launch)).rejects.toBeInstanceOf(RunnerContractViolation);
  });

  it("another attempt under a Job name in use, or a ref that names a Job of another attempt", async () => {
    const runner = new MemoryRunner();
    const launch = launchOf("hf-unit-1");
    await runner.submit(launch);
    await expect(runner.submit({ ...launch, attempt: 2 })).rejects.toBeInstanceOf(RunnerContractViolation);
    await expect(runner.observe({ ...refOf(launch), task: "lint" })).rejects.toBeInstanceOf(
      RunnerContractViolation,
    );
    await expect(runner.cancel({ ...refOf(launch), runId: "r2" })).rejects.toBeInstanceOf(
      RunnerContractViolation,
    );
  });

  it("a test moving a Job backwards, out of a terminal state, or after it was canceled", async () => {
    const runner = new MemoryRunner();
    const done = launchOf("hf-unit-1");
    await runner.submit(done);
    runner.set(done.jobName, { state: "running" });
    expect(() => runner.set(done.jobName, { state: "pending" })).toThrow(/cannot go from running to pending/);
    runner.set(done.jobName, { state: "succeeded" });
    expect(() => runner.set(done.jobName, { state: "failed" })).toThrow(/cannot go from succeeded/);
    const canceled = launchOf("hf-unit-2");
    await runner.submit(canceled);
    await runner.cancel(refOf(canceled));
    expect(() => runner.set(canceled.jobName, { state: "running" })).toThrow(/canceled/);
  });
});
