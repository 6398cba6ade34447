#!/usr/bin/env node
// The seams of docs/architecture.md, checked by `npm run lint`:
//  - only src/platform/ reads the real clock, makes randomness or calls node:crypto;
//  - layers import one way (LAYERS below): core is the domain and knows no framework, database
//    driver, logger, environment, transport or configuration; platform knows nothing above it.
// Tests beside modules are exempt; they may build fixtures freely.
//
// Usage: node scripts/check-seams.mjs [root]. The root defaults to this repository; the script's
// own test points it at a fixture tree.
//
// Import specifiers are resolved to files before they are compared, so a rule names folders, not
// the `../..` spellings that reach them (Biome's noRestrictedImports compares the spelling).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const ROOT = resolve(process.argv[2] ?? new URL("..", import.meta.url).pathname);

const CLOCK_AND_RANDOMNESS = [
  [/\bDate\.now\(/, "Date.now()"],
  [/new Date\(\)/, "new Date()"],
  [/\bMath\.random\(/, "Math.random()"],
  [/from\s+["']node:crypto["']|require\(["'](node:)?crypto["']\)|from\s+["']crypto["']/, "node:crypto"],
];

/**
 * Per folder: the parts of src/ its files may import (a folder ends in "/", anything else is one
 * file), the packages they may not, and whether they may read process.env.
 */
const LAYERS = [
  {
    name: "core",
    folder: "src/core/",
    // storage/store.ts is the Store port core is written against (its implementations stay out).
    mayImport: ["src/core/", "src/platform/", "src/storage/store.ts"],
    packages: [
      "fastify",
      "@fastify/",
      "kysely",
      "pino",
      "better-sqlite3",
      "pg",
      "nodemailer",
      "handlebars",
      "ioredis",
      "prom-client",
    ],
    processEnv: false,
  },
  { name: "platform", folder: "src/platform/", mayImport: ["src/platform/"], packages: [], processEnv: true },
  {
    // The mailer implements core's mail port and throws core's coded errors; nothing else of core.
    name: "mail",
    folder: "src/mail/",
    mayImport: [
      "src/mail/",
      "src/platform/",
      "src/core/mail/port.ts",
      "src/core/mail/single-address.ts",
      "src/core/errors.ts",
    ],
    packages: [],
    processEnv: false,
  },
  {
    // Configuration validates against core's floor for the password hash, and knows nothing else of src.
    name: "config",
    folder: "src/config/",
    // It is handed the environment, so that it can be tested with any.
    mayImport: ["src/config/", "src/core/password/hasher.ts"],
    packages: [],
    processEnv: false,
  },
];

const SOURCE = /\.(ts|cts|mts)$/;
const TEST = /\.test\.(ts|cts|mts)$/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (SOURCE.test(path) && !TEST.test(path)) yield path;
  }
}

/** Static imports and re-exports (also over several lines), side-effect imports, import() and require(). */
const SPECIFIERS = [
  /^[ \t]*(?:import|export)\s+(?:type\s+)?[\w\s{},*$]*?\bfrom\s*["']([^"']+)["']/gm,
  /^[ \t]*import\s*["']([^"']+)["']/gm,
  /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g,
];

function importsOf(text) {
  const found = [];
  for (const pattern of SPECIFIERS) {
    for (const match of text.matchAll(pattern)) {
      const line = text.slice(0, match.index + match[0].length).split("\n").length;
      found.push({ specifier: match[1], line });
    }
  }
  return found;
}

const posix = (path) => path.split(sep).join("/");

/** The file a relative specifier names, from the root, as TypeScript sources spell it (.js → .ts). */
function target(file, specifier) {
  const path = posix(relative(ROOT, resolve(dirname(file), specifier)));
  return path.replace(/\.([cm]?)js$/, ".$1ts");
}

function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const matchesPackage = (name, rule) => (rule.endsWith("/") ? name.startsWith(rule) : name === rule);
const allowed = (path, rule) => (rule.endsWith("/") ? path.startsWith(rule) : path === rule);

function layerProblems(rel, file, text, layer) {
  const problems = [];
  for (const { specifier, line } of importsOf(text)) {
    if (specifier.startsWith(".")) {
      const path = target(file, specifier);
      if (!layer.mayImport.some((rule) => allowed(path, rule))) {
        problems.push(`${rel}:${line}: ${layer.name} imports ${path} (it may import ${layer.mayImport.join(", ")})`);
      }
    } else {
      const name = packageOf(specifier);
      if (layer.packages.some((rule) => matchesPackage(name, rule))) {
        problems.push(`${rel}:${line}: ${layer.name} imports the package ${name}`);
      }
    }
  }
  if (!layer.processEnv) {
    text.split("\n").forEach((content, index) => {
      if (/\bprocess\.env\b/.test(content)) problems.push(`${rel}:${index + 1}: ${layer.name} reads process.env`);
    });
  }
  return problems;
}

const problems = [];
for (const file of files(join(ROOT, "src"))) {
  const rel = posix(relative(ROOT, file));
  const text = readFileSync(file, "utf8");
  if (!rel.startsWith("src/platform/")) {
    text.split("\n").forEach((line, index) => {
      for (const [pattern, what] of CLOCK_AND_RANDOMNESS) {
        if (pattern.test(line)) problems.push(`${rel}:${index + 1}: ${what} outside src/platform/`);
      }
    });
  }
  const layer = LAYERS.find((candidate) => rel.startsWith(candidate.folder));
  if (layer) problems.push(...layerProblems(rel, file, text, layer));
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("seams: ok");
