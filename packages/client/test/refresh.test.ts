import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/harness.js";
import { FileStore } from "../src/file-store.js";
import { decodeClaims, MemoryStore, type TokenStore } from "../src/index.js";
import { clientOf, countingFetch, PASSWORD, type Service, startService } from "./support.js";

const REFRESH = "GET /auth/refreshtoken";
const ACCESS = "GET /auth/accesstoken";

describe("keeping the access token fresh", () => {
  let service: Service | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await service?.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A signed-in user; no refresh grace, so a second use of a rotated token is reuse at once. */
  async function signedIn(store: TokenStore) {
    service = await startService({ LATCHKEY_REFRESH_GRACE_SECONDS: "0" });
    const userId = await service.t.createUser("alice@example.com", PASSWORD);
    const counter = countingFetch();
    const client = clientOf(service, { store, fetch: counter.fetch });
    await client.signIn("alice@example.com", PASSWORD);
    await client.accessToken();
    // Count from here: the sign-in's own requests are not what the tests measure.
    counter.hits.clear();
    return { service, userId, counter, client };
  }

  it("caches the access token until it is about to expire", async () => {
    const { counter, client, service } = await signedIn(new MemoryStore());
    const first = await client.accessToken();
    expect(counter.count(ACCESS)).toBe(0);
    service.t.clock.advanceSeconds(200);
    expect(await client.accessToken()).toBe(first);
    // Within 30 s of its end it is renewed, before the server would refuse it.
    service.t.clock.advanceSeconds(75);
    const second = await client.accessToken();
    expect(second).not.toBe(first);
    expect(decodeClaims(second)?.exp).toBeGreaterThan(decodeClaims(first)?.exp ?? 0);
    expect(counter.count(REFRESH)).toBe(1);
  });

  it("renews once for 50 concurrent calls made as the access token expires", async () => {
    const { counter, client, service, userId } = await signedIn(new MemoryStore());
    service.t.clock.advanceSeconds(301);
    const answers = await Promise.allSettled(Array.from({ length: 50 }, () => client.validateAccessToken()));
    expect(answers.filter((a) => a.status === "rejected")).toEqual([]);
    for (const answer of answers) expect(answer).toEqual({ status: "fulfilled", value: { userId } });
    expect(counter.count(REFRESH)).toBe(1);
    expect(counter.count(ACCESS)).toBe(1);
    expect(counter.count("GET /auth/accesstoken/validate")).toBe(50);
    // The session lives on: the chain was never forked.
    expect(await client.validateRefreshToken()).toEqual({ userId });
  });

  it("two tabs on one store rotate once between them and never trip reuse detection", async () => {
    const store = new MemoryStore();
    const { counter, service, userId } = await signedIn(store);
    const tabA = clientOf(service, { store, fetch: counter.fetch });
    const tabB = clientOf(service, { store, fetch: counter.fetch });
    service.t.clock.advanceSeconds(301);
    const answers = await Promise.all([
      ...Array.from({ length: 10 }, () => tabA.validateAccessToken()),
      ...Array.from({ length: 10 }, () => tabB.validateAccessToken()),
    ]);
    expect(answers).toEqual(Array.from({ length: 20 }, () => ({ userId })));
    expect(counter.count(REFRESH)).toBe(1);
    expect(await tabA.accessToken()).toBe(await tabB.accessToken());
    expect(await tabB.validateRefreshToken()).toEqual({ userId });
  });

  it("two processes on one session file take turns through its lock file", async () => {
    const dir = tempDir("latchkey-client-");
    dirs.push(dir);
    const path = join(dir, "session.json");
    const { counter, service, userId } = await signedIn(new FileStore(path));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // Two stores on one path share nothing in memory: only the lock file keeps them apart.
    const one = clientOf(service, { store: new FileStore(path), fetch: counter.fetch });
    const two = clientOf(service, { store: new FileStore(path), fetch: counter.fetch });
    service.t.clock.advanceSeconds(301);
    const answers = await Promise.all([one.validateAccessToken(), two.validateAccessToken()]);
    expect(answers).toEqual([{ userId }, { userId }]);
    expect(counter.count(REFRESH)).toBe(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(() => statSync(`${path}.lock`)).toThrow();
  });

  it("without the lock, two holders of one token trip reuse detection (what the lock prevents)", async () => {
    const { service } = await signedIn(new MemoryStore());
    // Two stores holding copies of one session: no shared lock, no shared state.
    const session = await (await signedInCopy(service)).load();
    const a = new MemoryStore();
    const b = new MemoryStore();
    if (!session) throw new Error("no session");
    await a.save(session);
    await b.save(session);
    const tabA = clientOf(service, { store: a });
    const tabB = clientOf(service, { store: b });
    service.t.clock.advanceSeconds(301);
    await tabA.accessToken();
    service.t.clock.advanceSeconds(1);
    const error = await tabB.accessToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "REFRESH_TOKEN_REUSED" });
    // A dead session leaves the store.
    expect(await b.load()).toBeUndefined();
  });

  async function signedInCopy(service: Service): Promise<TokenStore> {
    const store = new MemoryStore();
    await service.t.createUser("bob@example.com", PASSWORD);
    await clientOf(service, { store }).signIn("bob@example.com", PASSWORD);
    return store;
  }
});
