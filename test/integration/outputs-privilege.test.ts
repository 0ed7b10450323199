import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { JobTemplate, Run, TaskLaunch } from "../../core/model/index.js";
import { parseJobTemplate, parsePipeline } from "../../core/model/parse.js";
import { createCallbackApp } from "../../functions/callback.js";
import { driveRun } from "../helpers/drive.js";
import { newRun, taskState, trigger } from "../helpers/factories.js";
import { MemoryRunner } from "../helpers/memory-runner.js";
import { testSystem } from "../helpers/system.js";

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
const valid = <T>(result: { ok: true; value: T } | { ok: false; issues: unknown }): T => {
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
};
const webApp = valid(await parsePipeline(readFileSync(join(EXAMPLES, "web-app.yaml"), "utf8")));
const jobs: Record<string, JobTemplate> = Object.fromEntries(
  await Promise.all(
    ["kaniko-build", "kubectl-deploy", "test-runner"].map(async (name) => [
      name,
      valid(await parseJobTemplate(readFileSync(join(EXAMPLES, "jobs", `${name}.yaml`), "utf8"))),
    ]),
  ),
);

describe("the approved-deploy example, end to end through the callback and the scheduler", () => {
  it("gives the deploy what its definitions say, whatever the image task reports", async () => {
    const runner = new MemoryRunner();
    const system = await testSystem({ runner });
    const callback = createCallbackApp(system.callback);
    const id = "outputsattack";
    await system.stores.runs.saveRun(
      newRun({ id, pipeline: webApp, jobs, trigger: trigger({ branch: "main" }) }),
    );
    await system.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);

    const submitted = (task: string) => (run: Run) => taskState(run, task).submittedAt !== undefined;
    const report = async (launch: TaskLaunch, body: object) => {
      const path = new URL(launch.env.HOOKFLOW_CALLBACK_URL as string).pathname;
      const answer = await callback.request(path, {
        method: "POST",
        headers: {
          authorization: `Bearer ${launch.secretEnv.HOOKFLOW_TASK_TOKEN}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
      expect(answer.status).toBe(200);
    };
    const only = (task: string) => {
      const [launch] = runner.launchesOf(task);
      if (!launch) throw new Error(`${task} was not submitted`);
      return launch;
    };

    await driveRun(system, id, { done: (run) => submitted("unit")(run) && submitted("lint")(run) });
    await report(only("unit"), { status: "succeeded" });
    await report(only("lint"), { status: "succeeded" });
    await driveRun(system, id, { done: submitted("image") });
    await report(only("image"), {
      status: "succeeded",
      outputs: {
        IMAGE: "evil.example.com/backdoor",
        NAMESPACE: "kube-system",
        PATH: "/tmp/evil:/usr/bin",
        LD_PRELOAD: "/tmp/evil.so",
        GIT_SSH_COMMAND: "sh /tmp/evil.sh",
        https_proxy: "http://evil.example.com:3128",
        IMAGE_DIGEST: "sha256:0123",
      },
    });
    const waiting = await driveRun(system, id, {
      done: (run) => taskState(run, "deploy").status === "waiting",
    });
    expect(taskState(waiting, "image").message).toMatch(
      /^outputs refused: IMAGE is declared by the run's definitions; NAMESPACE is declared .*; PATH is a process-control name; LD_PRELOAD .*; GIT_SSH_COMMAND/,
    );
    await system.recorder.record(id, [{ type: "approval.granted", task: "deploy", by: "alice" }]);
    await driveRun(system, id, { done: submitted("deploy") });

    const deploy = only("deploy");
    expect(deploy.env).toMatchObject({
      IMAGE: "registry.example.com/acme/web",
      NAMESPACE: "production",
      IMAGE_DIGEST: "sha256:0123",
    });
    for (const name of ["PATH", "LD_PRELOAD", "GIT_SSH_COMMAND", "https_proxy"])
      expect({ ...deploy.env, ...deploy.secretEnv }).not.toHaveProperty(name);
    expect(JSON.stringify(deploy)).not.toContain("evil");
  });
});
