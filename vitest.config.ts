import { defineConfig } from "vitest/config";

/**
 * Two projects, so that `npx vitest run test/unit` starts no emulator: vitest runs a project's global setup only
 * when one of its tests is queued. Every test that starts no emulator and no process lives in test/unit.
 */
export default defineConfig({
  test: {
    coverage: {
      provider: "v8",
      include: ["core/engine/**", "core/model/**"],
      reporter: ["text-summary", "text"],
      thresholds: { lines: 90 },
    },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Pure tests share one module graph: no emulator, no process, nothing global to isolate.
          pool: "threads",
          isolate: false,
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: "emulators",
          include: ["test/**/*.test.ts"],
          exclude: ["test/unit/**"],
          globalSetup: ["test/global-setup.ts"],
          // A budget for a test that waits on conditions under load, never a measure of speed.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
