/**
 * Loads every origin and template under a mail directory once, at startup, and compiles them.
 * Lookups afterwards are map reads keyed by validated names: no request value ever becomes a path.
 *
 * Layout: <mailDir>/<origin>/origin.json and <mailDir>/<origin>/<lang>/<template>.<part>.hbs
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { AppError } from "../core/errors.js";
import { MAIL_TEMPLATES, type MailTemplate } from "../core/mail/port.js";
import { type OriginConfig, parseOriginConfig } from "./origin-config.js";

export const DEFAULT_ORIGIN = "default";

const ORIGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/;
const LANGUAGE_CODE = /^[a-z]{2}$/i;
const TEMPLATE_FILE = /^(.+)\.(subject|text|html)\.hbs$/;
const PARTS = ["subject", "text", "html"] as const;

type Part = (typeof PARTS)[number];
type Render = (vars: Record<string, unknown>) => string;

export interface CompiledTemplate {
  subject: Render;
  text: Render;
  html: Render;
}

export interface LoadedOrigin {
  name: string;
  config: OriginConfig;
  /** language → template → compiled parts */
  languages: Map<string, Map<MailTemplate, CompiledTemplate>>;
}

export interface ResolvedTemplate {
  origin: LoadedOrigin;
  language: string;
  template: CompiledTemplate;
}

export interface MailCatalog {
  origins: ReadonlyMap<string, LoadedOrigin>;
  /** The origin by name (omitted → "default"); undefined when invalid or unknown. */
  origin(name?: string): LoadedOrigin | undefined;
  /** Applies the fallback rule; throws AppError UNABLE_TO_FIND_MAIL_TEMPLATE when nothing fits. */
  resolve(template: MailTemplate, origin?: string, language?: string): ResolvedTemplate;
}

/** Accepts a name as an origin only if it matches the origin grammar and holds no "..". */
export function isValidOriginName(name: string): boolean {
  return ORIGIN_NAME.test(name) && !name.includes("..");
}

function isTemplateName(name: string): name is MailTemplate {
  return (MAIL_TEMPLATES as readonly string[]).includes(name);
}

function isDirectory(path: string): boolean {
  return statSync(path).isDirectory();
}

/** Subject and text are plain text (noEscape); html escapes every {{value}}. Built-in helpers only. */
function compilePart(env: typeof Handlebars, source: string, part: Part, file: string): Render {
  let ast: ReturnType<typeof Handlebars.parse>;
  try {
    ast = env.parse(source);
  } catch (err) {
    throw new Error(`Invalid mail template ${file}: ${(err as Error).message}`, { cause: err });
  }
  const compiled = env.compile<Record<string, unknown>>(ast, {
    noEscape: part !== "html",
    knownHelpersOnly: true,
  });
  return (vars) => compiled(vars);
}

function loadLanguage(env: typeof Handlebars, dir: string): Map<MailTemplate, CompiledTemplate> {
  const found = new Map<MailTemplate, Partial<Record<Part, Render>>>();
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith(".") || !entry.endsWith(".hbs")) continue;
    const file = join(dir, entry);
    const match = TEMPLATE_FILE.exec(entry);
    const name = match?.[1];
    const part = match?.[2] as Part | undefined;
    if (name === undefined || part === undefined || !isTemplateName(name)) {
      throw new Error(`Unknown mail template file ${file} (expected <template>.<subject|text|html>.hbs)`);
    }
    const parts = found.get(name) ?? {};
    parts[part] = compilePart(env, readFileSync(file, "utf8"), part, file);
    found.set(name, parts);
  }
  const templates = new Map<MailTemplate, CompiledTemplate>();
  for (const [name, parts] of found) {
    const { subject, text, html } = parts;
    if (subject === undefined || text === undefined || html === undefined) {
      const missing = PARTS.filter((p) => parts[p] === undefined).map((p) => join(dir, `${name}.${p}.hbs`));
      throw new Error(`Incomplete mail template: missing ${missing.join(", ")}`);
    }
    templates.set(name, { subject, text, html });
  }
  return templates;
}

function loadOrigin(env: typeof Handlebars, mailDir: string, name: string): LoadedOrigin {
  const dir = join(mailDir, name);
  const file = join(dir, "origin.json");
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`Cannot read mail origin file ${file}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new Error(`Invalid mail origin file ${file}: not valid JSON`, { cause: err });
  }
  const config = parseOriginConfig(json, file);
  const languages = new Map<string, Map<MailTemplate, CompiledTemplate>>();
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (entry.startsWith(".") || !isDirectory(path)) continue;
    if (!LANGUAGE_CODE.test(entry)) {
      throw new Error(`Mail language folder ${path} must be a two-letter language code`);
    }
    const lang = entry.toLowerCase();
    if (languages.has(lang)) throw new Error(`Mail language folder ${path} duplicates "${lang}"`);
    languages.set(lang, loadLanguage(env, path));
  }
  return { name, config, languages };
}

/** Reads and compiles every origin under `mailDir`. Throws (naming the file) on anything malformed. */
export function loadMailCatalog(mailDir: string): MailCatalog {
  if (!isDirectory(mailDir)) throw new Error(`Mail directory ${mailDir} is not a directory`);
  const env = Handlebars.create();
  const origins = new Map<string, LoadedOrigin>();
  for (const entry of readdirSync(mailDir).sort()) {
    const path = join(mailDir, entry);
    if (entry.startsWith(".") || !isDirectory(path)) continue;
    if (!isValidOriginName(entry)) throw new Error(`Mail origin folder ${path} has an invalid name`);
    origins.set(entry, loadOrigin(env, mailDir, entry));
  }

  const origin = (name: string = DEFAULT_ORIGIN): LoadedOrigin | undefined =>
    isValidOriginName(name) ? origins.get(name) : undefined;

  const resolve = (template: MailTemplate, originName?: string, language?: string): ResolvedTemplate => {
    const found = origin(originName);
    if (found === undefined) throw new AppError("UNABLE_TO_FIND_MAIL_TEMPLATE");
    const candidates: string[] = [];
    if (language !== undefined) {
      if (!LANGUAGE_CODE.test(language)) throw new AppError("UNABLE_TO_FIND_MAIL_TEMPLATE");
      candidates.push(language.toLowerCase());
    }
    candidates.push(found.config.defaultLanguage);
    for (const lang of candidates) {
      const compiled = found.languages.get(lang)?.get(template);
      if (compiled !== undefined) return { origin: found, language: lang, template: compiled };
    }
    throw new AppError("UNABLE_TO_FIND_MAIL_TEMPLATE");
  };

  return { origins, origin, resolve };
}
