#!/usr/bin/env node
// The CLI is written in TypeScript and the package has no build step: tsx compiles it as it is imported.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
