import { existsSync, mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AxeBuilder } from "@axe-core/playwright";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { TestApp } from "./harness.js";

// Helpers for the suites under test/browser/, which drive pages in a real headless Chromium:
//
//   describeBrowser("login page", () => {
//     const browser = useBrowser();                 // one Chromium for the file
//     it("…", async () => {
//       const context = await newContext(browser(), { viewport: PHONE });
//       const page = await context.newPage();
//       await page.goto(`${base}/login`);          // base = await serveApp(testApp)
//       await expectAccessible(page);
//       await screenshot(page, "login");
//       await context.close();
//     });
//   });
//
// The test code is compiled without DOM types: read the page through locators, or hand
// page.evaluate a string ("navigator.language") rather than a function using DOM globals.

/** Debian's Chromium, which playwright-core (pinned to a release that drives it) launches. */
const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/**
 * The Chromium the browser suites launch: LATCHKEY_TEST_CHROMIUM, else /usr/bin/chromium when it
 * exists, else none (the suites are skipped). Under CI a missing browser is an error, not a silent
 * skip, as a missing PostgreSQL is (`testDialects()`); so is a LATCHKEY_TEST_CHROMIUM naming no file.
 */
export function chromiumPath(): string | undefined {
  const configured = process.env.LATCHKEY_TEST_CHROMIUM;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`LATCHKEY_TEST_CHROMIUM=${configured}: no such file`);
    return configured;
  }
  if (existsSync(DEFAULT_CHROMIUM)) return DEFAULT_CHROMIUM;
  if (process.env.CI === "true") {
    throw new Error(
      `CI=true but no Chromium: ${DEFAULT_CHROMIUM} is missing and LATCHKEY_TEST_CHROMIUM is not set; the browser suites are required`,
    );
  }
  return undefined;
}

const NO_CHROMIUM = `no Chromium at ${DEFAULT_CHROMIUM} and LATCHKEY_TEST_CHROMIUM unset (apt-get install chromium)`;

/**
 * A suite that needs a browser: skipped, with the reason in its name, when there is no Chromium
 * (never under CI, where `chromiumPath()` throws instead).
 */
export function describeBrowser(name: string, body: () => void): void {
  const found = chromiumPath() !== undefined;
  describe.skipIf(!found)(found ? name : `${name} (skipped: ${NO_CHROMIUM})`, body);
}

/** Flags for a headless Chromium in a container: no sandbox, no GPU, and no traffic of its own. */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(NO_CHROMIUM);
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS });
}

/**
 * One browser for the calling test file (or describe block): launched in beforeAll, closed in
 * afterAll. Launching costs about a second, so tests share it and open a context each.
 */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error("the browser is launched in beforeAll: call this inside a test");
    return browser;
  };
}

/** A screen the pages are checked at: its name goes into screenshot file names. */
export interface Screen {
  name: "desktop" | "phone";
  width: number;
  height: number;
  isMobile: boolean;
  hasTouch: boolean;
  deviceScaleFactor: number;
}

export const DESKTOP: Screen = {
  name: "desktop",
  width: 1280,
  height: 800,
  isMobile: false,
  hasTouch: false,
  deviceScaleFactor: 1,
};

export const PHONE: Screen = {
  name: "phone",
  width: 390,
  height: 844,
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};

export interface ContextOptions {
  /** The browser's language (Accept-Language, navigator.language); en-US unless told. */
  locale?: string;
  /** DESKTOP unless told. */
  viewport?: Screen;
  /** Ignore the pages' Content-Security-Policy (only for checks that inject scripts). */
  bypassCSP?: boolean;
  /** False for a browser with JavaScript off; on unless told. */
  javaScriptEnabled?: boolean;
}

/** The screen each context was opened with, for the screenshots' names. */
const screens = new WeakMap<BrowserContext, Screen>();

/** A fresh context (its own cookies and storage) at a screen, in UTC, with a fixed locale. */
export async function newContext(browser: Browser, options: ContextOptions = {}): Promise<BrowserContext> {
  const screen = options.viewport ?? DESKTOP;
  const context = await browser.newContext({
    locale: options.locale ?? "en-US",
    timezoneId: "UTC",
    viewport: { width: screen.width, height: screen.height },
    isMobile: screen.isMobile,
    hasTouch: screen.hasTouch,
    deviceScaleFactor: screen.deviceScaleFactor,
    bypassCSP: options.bypassCSP ?? false,
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    colorScheme: "light",
    reducedMotion: "reduce",
  });
  screens.set(context, screen);
  return context;
}

/** The screen a page is shown at: the one its context was opened with, else judged by its width. */
function screenOf(page: Page): Screen {
  const width = page.viewportSize()?.width;
  const opened = screens.get(page.context());
  if (opened && width === opened.width) return opened;
  return width !== undefined && width <= PHONE.width ? PHONE : DESKTOP;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where screenshots go (git ignores test-artifacts/). */
export const SCREENSHOT_DIR = join(REPO_ROOT, "test-artifacts", "screenshots");

/** A name safe as a file name: lower case, letters, digits, dots and dashes. */
export function sanitiseName(name: string): string {
  const safe = name
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 100);
  if (!safe) throw new Error(`screenshot name ${JSON.stringify(name)} has nothing usable in a file name`);
  return safe;
}

/** A full-page PNG at test-artifacts/screenshots/<name>-<desktop|phone>.png; its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${sanitiseName(name)}-${screenOf(page).name}.png`);
  await page.screenshot({ path, fullPage: true, type: "png", animations: "disabled" });
  return path;
}

/** Opens a context at a screen, with whatever state a test needs (a signed-in session …). */
export type ContextFactory = (screen: Screen) => Promise<BrowserContext>;

/**
 * `url` shot at both screens; the two paths. From a browser or a context factory, each screen gets
 * its own context (true phone emulation: touch, device pixels, the meta viewport), closed after.
 * From a page, that page is resized (its cookies kept, its pixel ratio unchanged) and put back.
 */
export async function screenshotBoth(
  source: Browser | ContextFactory | Page,
  url: string,
  name: string,
): Promise<{ desktop: string; phone: string }> {
  const paths: Partial<Record<Screen["name"], string>> = {};
  if (typeof source === "function" || "newContext" in source) {
    const open: ContextFactory =
      typeof source === "function" ? source : (screen) => newContext(source, { viewport: screen });
    for (const screen of [DESKTOP, PHONE]) {
      const context = await open(screen);
      try {
        const page = await context.newPage();
        await page.goto(url);
        paths[screen.name] = await screenshot(page, name);
      } finally {
        await context.close();
      }
    }
  } else {
    const before = source.viewportSize();
    try {
      for (const screen of [DESKTOP, PHONE]) {
        await source.setViewportSize({ width: screen.width, height: screen.height });
        await source.goto(url);
        paths[screen.name] = await screenshot(source, name);
      }
    } finally {
      if (before) await source.setViewportSize(before);
    }
  }
  return { desktop: paths.desktop as string, phone: paths.phone as string };
}

type AxeResults = Awaited<ReturnType<AxeBuilder["analyze"]>>;

/** The WCAG levels the pages are held to. */
export const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/**
 * Runs axe on the page as it is now and fails, listing each one, on any violation of impact serious
 * or critical (id, help, the first targets); else axe's results. Minor and moderate ones are left to
 * review.
 *
 * Pages may be served with a strict Content-Security-Policy (no inline script): axe still runs there
 * without `bypassCSP`, since Playwright evaluates its source through the DevTools protocol, which
 * the page's policy does not govern (the infrastructure test checks this on such a page).
 */
export async function expectAccessible(page: Page): Promise<AxeResults> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const blocking = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (blocking.length === 0) return results;
  const lines = blocking.map((v) => {
    const targets = v.nodes.slice(0, 3).map((node) => JSON.stringify(node.target).slice(0, 160));
    const more = v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : "";
    return `- ${v.id} (${v.impact}): ${v.help} — ${targets.join(", ")}${more}`;
  });
  throw new Error(`${blocking.length} accessibility violation(s) on ${page.url()}:\n${lines.join("\n")}`);
}

/**
 * Makes a TestApp listen on 127.0.0.1 at a port the kernel picks, for a browser to reach; its base
 * URL. `testApp.close()` stops the listener with the rest. Chromium counts http://127.0.0.1 (and
 * http://localhost) as potentially trustworthy, so it keeps the app's Secure cookies there.
 */
export async function serveApp(testApp: TestApp): Promise<string> {
  await testApp.app.listen({ host: "127.0.0.1", port: 0 });
  const address = testApp.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/**
 * Makes a TestApp listen on the loopback at `port` (one `closedPort()` gave, already named in the
 * app's LATCHKEY_PASSKEY_ORIGINS) and answer as http://localhost:<port>: WebAuthn wants a secure
 * context and an RP id that is a name, not an IP address, and http://localhost is both.
 */
export async function serveAppOnLocalhost(testApp: TestApp, port: number): Promise<string> {
  await testApp.app.listen({ host: "localhost", port });
  return `http://localhost:${port}`;
}

/** The settings of an app served by `serveAppOnLocalhost` at `port`: its passkeys' relying party. */
export function localhostPasskeyEnv(port: number): Record<string, string> {
  return { LATCHKEY_PASSKEY_RP_ID: "localhost", LATCHKEY_PASSKEY_ORIGINS: `http://localhost:${port}` };
}

/**
 * Axe on a page as it is (a form's answer included), then a shot at the desktop width and one at the
 * phone's, narrowing that same page (its state kept) and checking nothing sticks out sideways.
 */
export async function look(page: Page, name: string): Promise<void> {
  await expectAccessible(page);
  await page.setViewportSize({ width: DESKTOP.width, height: DESKTOP.height });
  await screenshot(page, name);
  await page.setViewportSize({ width: PHONE.width, height: PHONE.height });
  await screenshot(page, name);
  // Nothing sticks out sideways at the phone's width.
  expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(PHONE.width);
  await page.setViewportSize({ width: DESKTOP.width, height: DESKTOP.height });
}

/**
 * Sends the form of the button named exactly `button` and waits for the answer: the page at `url`,
 * or any new page. (Exactly: "Sign in" is not "Sign in with a passkey".)
 */
export async function submit(page: Page, button: string, url?: string): Promise<void> {
  const loaded = url === undefined ? page.waitForEvent("load") : page.waitForURL(url);
  await Promise.all([loaded, page.getByRole("button", { name: button, exact: true }).click()]);
}

/** The text of the page's error or notice alert. */
export const errorText = (page: Page) => page.locator(".alert-error").textContent();
export const noticeText = (page: Page) => page.locator(".alert-notice").textContent();
