import { afterEach, describe, expect, it } from "vitest";
import { LocalMutex, LocalStorageStore } from "../src/index.js";
import { clientOf, countingFetch, PASSWORD, type Service, startService } from "./support.js";

/** The browser's localStorage, as two tabs of one origin see it. */
function sharedStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
}

/** Web Locks as the browser gives them to every tab of an origin: one holder of a name at a time. */
function sharedLocks() {
  const mutexes = new Map<string, LocalMutex>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const mutex = mutexes.get(name) ?? new LocalMutex();
      mutexes.set(name, mutex);
      return mutex.run(callback);
    },
  };
}

describe("two browser tabs on localStorage", () => {
  let service: Service | undefined;
  afterEach(async () => {
    await service?.close();
  });

  it("renew once between them under the Web Lock, and tell each other through a BroadcastChannel", async () => {
    service = await startService({ LATCHKEY_REFRESH_GRACE_SECONDS: "0" });
    const userId = await service.t.createUser("tabs@example.com", PASSWORD);
    const storage = sharedStorage();
    const locks = sharedLocks();
    const key = `latchkey.test.${userId}.${service.url}`;
    const storeA = new LocalStorageStore({ key, storage, locks });
    const storeB = new LocalStorageStore({ key, storage, locks });
    const counter = countingFetch();
    const tabA = clientOf(service, { store: storeA, fetch: counter.fetch });
    const tabB = clientOf(service, { store: storeB, fetch: counter.fetch });

    const told = new Promise<void>((resolve) => {
      const unsubscribe = storeB.subscribe(() => {
        unsubscribe();
        resolve();
      });
    });
    await tabA.signIn("tabs@example.com", PASSWORD);
    await told;
    expect(await tabB.isSignedIn()).toBe(true);

    await tabA.accessToken();
    counter.hits.clear();
    service.t.clock.advanceSeconds(301);
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => tabA.validateAccessToken()),
      ...Array.from({ length: 5 }, () => tabB.validateAccessToken()),
    ]);
    expect(answers).toEqual(Array.from({ length: 10 }, () => ({ userId })));
    expect(counter.count("GET /auth/refreshtoken")).toBe(1);
    expect(await tabB.validateRefreshToken()).toEqual({ userId });
  });
});
