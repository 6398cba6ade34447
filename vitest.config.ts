import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // `npm test` runs both; `npx vitest run --project <name>` runs one.
    projects: [
      {
        extends: true,
        test: {
          name: "latchkey",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/bench/**"],
        },
      },
      {
        // The benchmark runner's own code (bench/lib): its meters and parsers, not the server.
        extends: true,
        test: { name: "bench", include: ["test/bench/**/*.test.ts"] },
      },
    ],
  },
});
