/**
 * The hosted pages' templates and words, loaded and compiled once at startup from the pages folder:
 *
 *   <pagesDir>/layout.hbs              the frame of every page
 *   <pagesDir>/partials/<name>.hbs     pieces shared by pages ({{> name}})
 *   <pagesDir>/views/<name>.hbs        one file per page
 *   <pagesDir>/strings/<group>.json    {"en": {key: text}, "nl": …, "fr": …, "de": …}; keys are used
 *                                      as "<group>.<key>"
 *   <pagesDir>/assets/                 the stylesheet and the script of niceties, served as they are
 *
 * Every string must exist in every language: a missing one stops the start, naming it. Templates
 * escape every value; `{{t "group.key" name=value}}` puts values into a string in the page's language.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";

/** The languages of the pages, as of the mails. */
export const PAGE_LANGUAGES = ["en", "nl", "fr", "de"] as const;
export type PageLanguage = (typeof PAGE_LANGUAGES)[number];

/** The repository's `pages/` folder, from both `src/http/pages/` (tsx) and `dist/http/pages/`. */
export const DEFAULT_PAGES_DIR: string = resolve(fileURLToPath(new URL("../../../pages", import.meta.url)));

const NAME = /^[a-z0-9][a-z0-9-]*$/;

export type Strings = Readonly<Record<PageLanguage, ReadonlyMap<string, string>>>;

export interface PageViews {
  /** Renders `view` inside the layout. `data` holds the page's values; `layout` the frame's. */
  render(view: string, layout: Record<string, unknown>, data: Record<string, unknown>): string;
  /** A string in `lang`, with `{name}` placeholders filled in. */
  text(lang: PageLanguage, key: string, values?: Record<string, unknown>): string;
  has(view: string): boolean;
  /** The files under assets/, by name. */
  assets: ReadonlyMap<string, Buffer>;
}

export function isPageLanguage(value: unknown): value is PageLanguage {
  return typeof value === "string" && (PAGE_LANGUAGES as readonly string[]).includes(value);
}

function hbsFiles(dir: string): [string, string][] {
  return readdirSync(dir)
    .filter((entry) => entry.endsWith(".hbs"))
    .sort()
    .map((entry) => {
      const name = entry.slice(0, -".hbs".length);
      if (!NAME.test(name)) throw new Error(`Page template ${join(dir, entry)} has an invalid name`);
      return [name, readFileSync(join(dir, entry), "utf8")];
    });
}

function loadStrings(dir: string): Strings {
  const maps = Object.fromEntries(PAGE_LANGUAGES.map((lang) => [lang, new Map<string, string>()])) as Record<
    PageLanguage,
    Map<string, string>
  >;
  for (const entry of readdirSync(dir).sort()) {
    if (!entry.endsWith(".json")) continue;
    const file = join(dir, entry);
    const group = entry.slice(0, -".json".length);
    if (!NAME.test(group)) throw new Error(`Page strings file ${file} has an invalid name`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`Page strings file ${file} is not valid JSON`, { cause: err });
    }
    const byLanguage = json as Record<string, Record<string, unknown>>;
    const keys = Object.keys(byLanguage.en ?? {});
    for (const lang of PAGE_LANGUAGES) {
      const strings = byLanguage[lang];
      if (typeof strings !== "object" || strings === null) throw new Error(`Page strings file ${file} lacks "${lang}"`);
      for (const key of new Set([...keys, ...Object.keys(strings)])) {
        const value = strings[key];
        if (typeof value !== "string" || value === "") {
          throw new Error(`Page strings file ${file}: "${lang}" has no text for "${key}"`);
        }
        if (!keys.includes(key)) throw new Error(`Page strings file ${file}: "${key}" is in "${lang}" but not in "en"`);
        maps[lang].set(`${group}.${key}`, value);
      }
    }
  }
  return maps;
}

function fill(template: string, values: Record<string, unknown> | undefined): string {
  if (values === undefined) return template;
  return template.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) =>
    values[name] === undefined ? whole : String(values[name]),
  );
}

export function loadPageViews(pagesDir: string = DEFAULT_PAGES_DIR): PageViews {
  const strings = loadStrings(join(pagesDir, "strings"));
  const text = (lang: PageLanguage, key: string, values?: Record<string, unknown>): string => {
    const found = strings[lang].get(key);
    if (found === undefined) throw new Error(`No page string "${key}"`);
    return fill(found, values);
  };

  const env = Handlebars.create();
  // {{t "group.key" name=value}}: the string in the page's language (the root's `lang`), escaped.
  env.registerHelper("t", function (this: unknown, key: unknown, options: Handlebars.HelperOptions) {
    const lang = (options.data?.root as { lang?: PageLanguage } | undefined)?.lang ?? "en";
    return text(lang, String(key), options.hash as Record<string, unknown>);
  });
  env.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  for (const [name, source] of hbsFiles(join(pagesDir, "partials"))) env.registerPartial(name, source);

  const compile = (source: string) => env.compile<Record<string, unknown>>(source, { strict: false });
  const layout = compile(readFileSync(join(pagesDir, "layout.hbs"), "utf8"));
  const views = new Map(hbsFiles(join(pagesDir, "views")).map(([name, source]) => [name, compile(source)]));

  const assets = new Map<string, Buffer>();
  const assetsDir = join(pagesDir, "assets");
  for (const entry of readdirSync(assetsDir).sort()) {
    if (/^[a-z0-9-]+\.(css|js|svg)$/.test(entry)) assets.set(entry, readFileSync(join(assetsDir, entry)));
  }

  return {
    render(view, frame, data) {
      const page = views.get(view);
      if (page === undefined) throw new Error(`No page view "${view}"`);
      const body = page({ ...frame, ...data });
      return layout({ ...frame, ...data, body: new Handlebars.SafeString(body) });
    },
    text,
    has: (view) => views.has(view),
    assets,
  };
}
