import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import formbody from "@fastify/formbody";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DESKTOP,
  describeBrowser,
  expectAccessible,
  newContext,
  PHONE,
  sanitiseName,
  screenshot,
  screenshotBoth,
  serveApp,
  useBrowser,
} from "../support/browser.js";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";

// The helpers the page suites use, tried on a small server of this file's own: a page with a
// form, an unlabelled input and a Secure cookie, and an accessible page under a strict CSP.

const COOKIE = "probe-4f1c";
const TALL = 1500;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function html(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><link rel="stylesheet" href="/page.css"></head><body><main>${body}</main></body></html>`;
}

interface ProbeServer {
  app: FastifyInstance;
  /** The Cookie header of each form submission, in order. */
  submittedCookies: (string | undefined)[];
}

async function startProbeServer(): Promise<ProbeServer> {
  const submittedCookies: (string | undefined)[] = [];
  const app = Fastify();
  await app.register(formbody);
  app.get("/bad", (_request, reply) => {
    reply
      .header("set-cookie", `probe=${COOKIE}; Secure; HttpOnly; SameSite=Lax; Path=/`)
      .type("text/html; charset=utf-8")
      .send(
        html(
          "Bad form",
          `<h1>Bad form</h1><form method="post" action="/submit"><input type="text" id="nick" name="nickname"><button type="submit">Send</button></form>`,
        ),
      );
  });
  app.post<{ Body: { nickname?: string } }>("/submit", (request, reply) => {
    submittedCookies.push(request.headers.cookie);
    const nickname = request.body.nickname ?? "";
    reply
      .type("text/html; charset=utf-8")
      .send(
        html(
          "Sent",
          `<h1>Sent</h1><p id="nickname">${escapeHtml(nickname)}</p><p id="cookie">${escapeHtml(request.headers.cookie ?? "")}</p>`,
        ),
      );
  });
  app.get("/good", (_request, reply) => {
    reply
      .header("content-security-policy", "default-src 'self'; script-src 'self'")
      .type("text/html; charset=utf-8")
      .send(
        html(
          "Good form",
          `<h1>Good form</h1>
<form method="post" action="/submit"><label for="nickname">Nickname</label> <input type="text" id="nickname" name="nickname" autocomplete="nickname"> <button type="submit">Send</button></form>
<div class="tall">A tall block, so a full-page shot is taller than the screen.</div>
<script>document.documentElement.dataset.inline = "ran";</script>
<script src="/good.js"></script>`,
        ),
      );
  });
  // A stylesheet of the page's own origin (the policy refuses inline styles).
  app.get("/page.css", (_request, reply) => {
    reply.type("text/css").send(`.tall { height: ${TALL}px; }`);
  });
  app.get("/good.js", (_request, reply) => {
    reply.type("text/javascript").send(`document.documentElement.dataset.self = "ran";`);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, submittedCookies };
}

/** Width and height from a PNG's header, after checking its signature. */
function pngSize(path: string): { width: number; height: number } {
  const bytes = readFileSync(path);
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(bytes.subarray(12, 16).toString("ascii")).toBe("IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describeBrowser("browser test infrastructure", () => {
  const browser = useBrowser();
  let probe: ProbeServer;
  let port: number;

  beforeAll(async () => {
    probe = await startProbeServer();
    port = (probe.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await probe?.app.close();
  });

  for (const host of ["127.0.0.1", "localhost"]) {
    it(`loads a page, keeps its Secure cookie on http://${host} and sends it back with a form`, async () => {
      const base = `http://${host}:${port}`;
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        const response = await page.goto(`${base}/bad`);
        expect(response?.status()).toBe(200);
        await expect(page.title()).resolves.toBe("Bad form");

        const cookies = await context.cookies(base);
        expect(cookies).toEqual([
          expect.objectContaining({ name: "probe", value: COOKIE, secure: true, httpOnly: true }),
        ]);

        const before = probe.submittedCookies.length;
        await page.locator('input[name="nickname"]').fill("Ada <3");
        await Promise.all([page.waitForURL(`${base}/submit`), page.getByRole("button", { name: "Send" }).click()]);
        await expect(page.locator("#nickname").textContent()).resolves.toBe("Ada <3");
        await expect(page.locator("#cookie").textContent()).resolves.toBe(`probe=${COOKIE}`);
        expect(probe.submittedCookies.slice(before)).toEqual([`probe=${COOKIE}`]);
      } finally {
        await context.close();
      }
    });
  }

  it("expectAccessible fails on an unlabelled input, naming the rule and the element", async () => {
    const context = await newContext(browser());
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/bad`);
      const failure = await expectAccessible(page).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      const text = (failure as Error).message;
      expect(text).toMatch(/^- label \((critical|serious)\): /m);
      expect(text).toContain('["#nick"]');
    } finally {
      await context.close();
    }
  });

  it("expectAccessible passes on an accessible page served under a strict CSP", async () => {
    const context = await newContext(browser());
    try {
      const page = await context.newPage();
      const response = await page.goto(`http://127.0.0.1:${port}/good`);
      expect(response?.headers()["content-security-policy"]).toBe("default-src 'self'; script-src 'self'");
      // The policy is enforced: the page's own script ran, its inline one did not.
      await expect(page.locator("html").getAttribute("data-self")).resolves.toBe("ran");
      await expect(page.locator("html").getAttribute("data-inline")).resolves.toBeNull();
      const results = await expectAccessible(page);
      // axe did run there: the label rule was checked and passed.
      expect(results.passes.map((rule) => rule.id)).toContain("label");
    } finally {
      await context.close();
    }
  });

  it("writes full-page screenshots at both screens, the phone's narrower", async () => {
    const url = `http://127.0.0.1:${port}/good`;
    const shots = await screenshotBoth(browser(), url, "Infrastructure / good form");
    expect(shots.desktop).toMatch(/test-artifacts\/screenshots\/infrastructure-good-form-desktop\.png$/);
    expect(shots.phone).toMatch(/test-artifacts\/screenshots\/infrastructure-good-form-phone\.png$/);
    const desktop = pngSize(shots.desktop);
    const phone = pngSize(shots.phone);
    expect(desktop.width).toBe(DESKTOP.width);
    // Device pixels: 390 CSS pixels at a ratio of 2.
    expect(phone.width).toBe(PHONE.width * PHONE.deviceScaleFactor);
    expect(phone.width / PHONE.deviceScaleFactor).toBeLessThan(desktop.width);
    // The whole page, not the first screen of it.
    expect(desktop.height).toBeGreaterThan(TALL);
    expect(desktop.height).toBeGreaterThan(DESKTOP.height);
  });

  it("shoots one page at both widths, keeping its cookies, and names a shot after its screen", async () => {
    const context = await newContext(browser(), { viewport: PHONE, locale: "de-DE" });
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/bad`);
      await expect(page.evaluate<string>("navigator.language")).resolves.toBe("de-DE");
      expect(pngSize(await screenshot(page, "phone context")).width).toBe(PHONE.width * PHONE.deviceScaleFactor);

      const shots = await screenshotBoth(page, `http://127.0.0.1:${port}/good`, "same page");
      expect(pngSize(shots.desktop).width).toBe(DESKTOP.width * PHONE.deviceScaleFactor);
      expect(pngSize(shots.phone).width).toBe(PHONE.width * PHONE.deviceScaleFactor);
      expect(page.viewportSize()).toEqual({ width: PHONE.width, height: PHONE.height });
      expect((await context.cookies()).map((c) => c.name)).toEqual(["probe"]);
    } finally {
      await context.close();
    }
  });

  it("shoots both screens through a context factory, one context per screen", async () => {
    const asked: string[] = [];
    const shots = await screenshotBoth(
      (screen) => {
        asked.push(screen.name);
        return newContext(browser(), { viewport: screen, locale: "fr-FR" });
      },
      `http://127.0.0.1:${port}/good`,
      "factory",
    );
    expect(asked).toEqual(["desktop", "phone"]);
    expect(pngSize(shots.desktop).width).toBe(DESKTOP.width);
    expect(pngSize(shots.phone).width).toBe(PHONE.width * PHONE.deviceScaleFactor);
    expect(browser().contexts()).toEqual([]);
  });

  it("sanitises screenshot names", () => {
    expect(sanitiseName("Login / Error: wrong password")).toBe("login-error-wrong-password");
    expect(sanitiseName("../../etc/passwd")).toBe("etc-passwd");
    expect(sanitiseName("account.v2")).toBe("account.v2");
    expect(() => sanitiseName("///")).toThrow(/nothing usable/);
  });

  describe.each(testDialects())("serveApp on $name", (dialect) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(dialect);
    });
    afterAll(async () => {
      await t?.close();
    });

    it("makes the app reachable from the browser at its base URL", async () => {
      const base = await serveApp(t);
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        const response = await page.goto(`${base}/health/ready`);
        expect(response?.status()).toBe(200);
        expect(await response?.json()).toEqual({ status: "ready" });
      } finally {
        await context.close();
      }
    });
  });
});
