export * from "./create-run.js";
export * from "./names.js";
export * from "./outputs.js";
export * from "./render.js";
export * from "./status.js";
export * from "./transition.js";
export * from "./triggers.js";
export * from "./view.js";
