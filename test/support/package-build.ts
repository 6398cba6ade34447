import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "./harness.js";

const REPO = resolve(import.meta.dirname, "../..");

/**
 * Builds an SDK workspace with its own tsconfig into a fresh folder, as `npm run build` does into
 * dist/, and imports the entries its package.json exports: what a user installing it would load.
 */
export async function buildAndImport(name: "client" | "verify"): Promise<Record<string, Record<string, unknown>>> {
  const dir = join(REPO, "packages", name);
  const out = tempDir(`latchkey-${name}-build-`);
  execFileSync(
    process.execPath,
    [join(REPO, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json"), "--outDir", out],
    {
      stdio: "pipe",
    },
  );
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    exports: Record<string, { types: string; import: string }>;
  };
  const entries: Record<string, Record<string, unknown>> = {};
  try {
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      for (const file of [target.import, target.types]) {
        const built = join(out, file.replace(/^\.\/dist\//, ""));
        if (!existsSync(built)) throw new Error(`${name}: ${subpath} names ${file}, which the build does not make`);
      }
      entries[subpath] = (await import(
        pathToFileURL(join(out, target.import.replace(/^\.\/dist\//, ""))).href
      )) as Record<string, unknown>;
    }
  } finally {
    // Loaded modules stay loaded; the files are not needed once imported.
    rmSync(out, { recursive: true, force: true });
  }
  return entries;
}
