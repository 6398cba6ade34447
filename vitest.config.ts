import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // `npm test` runs all three; `npx vitest run --project <name>` runs one.
    projects: [
      {
        extends: true,
        test: {
          name: "latchkey",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/bench/**", "test/browser/**"],
        },
      },
      {
        // The SDK workspaces (packages/*): each package's tests, against the real service.
        extends: true,
        test: { name: "packages", include: ["packages/*/test/**/*.test.ts"] },
      },
      {
        // The benchmark runner's own code (bench/lib): its meters and parsers, not the server.
        extends: true,
        test: { name: "bench", include: ["test/bench/**/*.test.ts"] },
      },
      {
        // Pages in a real Chromium (test/support/browser.ts). One file at a time: each drives a
        // browser of several processes, and two of them beside the other suites would starve a
        // small machine. With one worker, Vitest runs these files after the other projects'.
        extends: true,
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          maxWorkers: 1,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
