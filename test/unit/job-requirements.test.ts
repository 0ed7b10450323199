import { describe, expect, it } from "vitest";
import { JobTemplate } from "../../core/model/index.js";
import { jobTemplate, newRun, pipeline, play, started, taskState, trigger } from "../helpers/factories.js";

const guarded = jobTemplate({
  name: "kubectl-deploy",
  params: [],
  requires: { approval: { approvers: ["carol"] }, branches: ["main", "release/*"], forks: false },
});
const deployPipeline = (task: Record<string, unknown>) =>
  pipeline({ stages: [{ name: "ship", tasks: [{ name: "deploy", job: "kubectl-deploy", ...task }] }] });

describe("a job template's requirements", () => {
  it("replace the task's approvers: a pipeline that drops or widens `approval` still waits for the template's", () => {
    for (const task of [{}, { approval: { approvers: ["mallory"] } }]) {
      const { run } = play(newRun({ pipeline: deployPipeline(task), jobs: { "kubectl-deploy": guarded } }), [
        started(),
      ]);
      expect(taskState(run, "deploy")).toMatchObject({ status: "waiting", reason: "AwaitingApproval" });
      const { run: after } = play(run, [{ type: "approval.granted", task: "deploy", by: "mallory" }]);
      expect(taskState(after, "deploy").status).toBe("waiting");
      const { run: approved } = play(run, [{ type: "approval.granted", task: "deploy", by: "carol" }]);
      expect(taskState(approved, "deploy").status).toBe("queued");
    }
  });

  it("run it only on the template's branches, whatever the task's `when` says", () => {
    const p = deployPipeline({ when: { branches: ["**"] } });
    const jobs = { "kubectl-deploy": guarded };
    const elsewhere = play(newRun({ pipeline: p, jobs, trigger: trigger({ branch: "feature/x" }) }), [
      started(),
    ]);
    expect(taskState(elsewhere.run, "deploy")).toMatchObject({
      status: "skipped",
      reason: "RequirementNotMet",
      message: "job template kubectl-deploy runs only on branches main, release/*",
    });
    const released = play(newRun({ pipeline: p, jobs, trigger: trigger({ branch: "release/2" }) }), [
      started(),
    ]);
    expect(taskState(released.run, "deploy").status).toBe("waiting");
    const tagged = play(
      newRun({
        pipeline: p,
        jobs,
        trigger: trigger({ event: "tag", branch: undefined, tag: "v1", ref: "refs/tags/v1" }),
      }),
      [started()],
    );
    expect(taskState(tagged.run, "deploy").status).toBe("skipped");
  });

  describe("for a pull request", () => {
    const pullRequest = (fork: boolean) =>
      trigger({
        event: "pull_request",
        // The head branch of a fork is named by whoever owns the fork: "main" proves nothing there.
        branch: "main",
        ref: "refs/pull/7/head",
        pullRequest: {
          number: 7,
          baseBranch: "main",
          headRepository: fork ? "mallory/web-app" : "acme/web-app",
          fork,
        },
      });
    const runOf = (template: typeof guarded, fork: boolean, trustedBy?: { by: string; at: string }) => {
      const p = pipeline({
        stages: [
          {
            name: "ship",
            tasks: [{ name: "deploy", job: "kubectl-deploy", when: { events: ["pull_request"] } }],
          },
        ],
      });
      const run = newRun({ pipeline: p, jobs: { "kubectl-deploy": template }, trigger: pullRequest(fork) });
      return play(trustedBy ? { ...run, trustedBy } : run, [started()]).run;
    };

    it("`forks: false` skips the task for a fork's, with the reason, even once the run is trusted", () => {
      const noForks = jobTemplate({ name: "kubectl-deploy", params: [], requires: { forks: false } });
      for (const trusted of [undefined, { by: "carol", at: "2026-01-01T00:00:00.000Z" }])
        expect(taskState(runOf(noForks, true, trusted), "deploy")).toMatchObject({
          status: "skipped",
          reason: "RequirementNotMet",
          message: "job template kubectl-deploy never runs for a pull request from a fork",
        });
      expect(taskState(runOf(noForks, false), "deploy").status).toBe("queued");
    });

    it("`branches` never match a fork's head branch, whatever it is called", () => {
      const mainOnly = jobTemplate({ name: "kubectl-deploy", params: [], requires: { branches: ["main"] } });
      expect(taskState(runOf(mainOnly, true), "deploy")).toMatchObject({
        status: "skipped",
        message: "job template kubectl-deploy runs only on branches main, never a fork's",
      });
      expect(taskState(runOf(mainOnly, false), "deploy").status).toBe("queued");
    });
  });

  it("are refused at apply with their path when malformed", () => {
    const result = JobTemplate.safeParse({
      ...guarded,
      requires: { approval: { approvers: [] }, branches: ["release/[x"], forks: "no" },
    });
    expect(result.error?.issues.map((i) => i.path.join(".")).sort()).toEqual([
      "requires.approval.approvers",
      "requires.forks",
    ]);
  });
});
