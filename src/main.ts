import { availableParallelism } from "node:os";

// `npm start`: serve with the configuration from the environment.
//
// libuv's thread pool runs the argon2id hashes, which run at most one per core plus one at a time
// (see createArgon2Hasher). A pool of that size, set before anything is queued on it, keeps the
// memory each pool thread retains after a hash (19 MiB by default) to those threads. An operator's
// own UV_THREADPOOL_SIZE wins.
process.env.UV_THREADPOOL_SIZE ??= String(availableParallelism() + 1);
const { runCli } = await import("./cli.js");
process.exitCode = await runCli(["serve"]);
