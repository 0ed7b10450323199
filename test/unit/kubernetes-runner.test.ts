import { describe, expect, it } from "vitest";
import { createKubernetesRunner } from "../../core/adapters/kubernetes/index.js";
import { PermanentError } from "../../core/errors.js";

describe("creating the Kubernetes runner", () => {
  it("refuses a namespace that is not a valid name when the runner is created", async () => {
    await expect(createKubernetesRunner({ kubeconfig: "", namespace: "Bad_Namespace" })).rejects.toThrow(
      PermanentError,
    );
  });
});
