export * from "./actor.js";
export * from "./events.js";
export * from "./issues.js";
export * from "./job-template.js";
export * from "./limits.js";
export * from "./pipeline.js";
export * from "./run.js";
export * from "./variables.js";
