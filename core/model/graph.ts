/**
 * Task graphs: `needs` between tasks. Small and strict (after Tekton's dag.go): a need names a task of its own
 * stage or an earlier one, never itself or a later task of a serial stage, and the needs of a stage have no cycle.
 * Stages stay barriers, so a need on an earlier stage only asks that task to have succeeded.
 */
import type { Stage } from "./pipeline.js";

export interface GraphProblem {
  path: PropertyKey[];
  message: string;
}

/**
 * What is wrong with the needs of `stages` (a run's stages: the pipeline's, then its finally stage), each with the
 * path of the field at fault. `pathOf(s, t)` is where task t of stage s sits in the definition.
 */
export function needsProblems(
  stages: readonly Stage[],
  pathOf: (stage: number, task: number) => PropertyKey[],
): GraphProblem[] {
  const where = new Map<string, { stage: number; index: number }>();
  for (const [s, stage] of stages.entries())
    for (const [t, task] of stage.tasks.entries())
      if (!where.has(task.name)) where.set(task.name, { stage: s, index: t });
  const problems: GraphProblem[] = [];
  for (const [s, stage] of stages.entries())
    for (const [t, task] of stage.tasks.entries()) {
      const seen = new Set<string>();
      for (const [n, need] of (task.needs ?? []).entries()) {
        const path = [...pathOf(s, t), "needs", n];
        const at = where.get(need);
        const problem = seen.has(need)
          ? `"${need}" is listed twice`
          : need === task.name
            ? "a task cannot need itself"
            : !at
              ? `no task "${need}" in this pipeline`
              : at.stage > s
                ? `"${need}" runs in a later stage (${stages[at.stage]?.name}); stages run in order`
                : at.stage === s && !stage.parallel && at.index > t
                  ? `"${need}" comes later in serial stage ${stage.name}; it would never have run`
                  : undefined;
        seen.add(need);
        if (problem) problems.push({ path, message: problem });
      }
    }
  if (problems.length > 0) return problems;
  for (const [s, stage] of stages.entries()) {
    const cycle = cycleIn(stage);
    if (cycle) {
      const t = stage.tasks.findIndex((task) => task.name === cycle[0]);
      problems.push({ path: [...pathOf(s, t), "needs"], message: `a cycle: ${cycle.join(" → ")}` });
    }
  }
  return problems;
}

/** A cycle among the needs within one stage, as names from a task back to itself; undefined when there is none. */
function cycleIn(stage: Stage): string[] | undefined {
  const inStage = new Map(stage.tasks.map((t) => [t.name, (t.needs ?? []).filter((n) => n !== t.name)]));
  const state = new Map<string, "visiting" | "done">();
  const trail: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...trail.slice(trail.indexOf(name)), name];
    state.set(name, "visiting");
    trail.push(name);
    for (const need of inStage.get(name) ?? []) {
      if (!inStage.has(need)) continue;
      const found = visit(need);
      if (found) return found;
    }
    trail.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const task of stage.tasks) {
    const found = visit(task.name);
    if (found) return found;
  }
  return undefined;
}

/** Every task `name` needs, directly or through others (within the given stages). */
export function upstreamOf(stages: readonly Stage[], name: string): Set<string> {
  const needsOf = new Map(stages.flatMap((s) => s.tasks).map((t) => [t.name, t.needs ?? []]));
  const found = new Set<string>();
  const queue = [...(needsOf.get(name) ?? [])];
  while (queue.length > 0) {
    const next = queue.pop() as string;
    if (found.has(next)) continue;
    found.add(next);
    queue.push(...(needsOf.get(next) ?? []));
  }
  return found;
}
