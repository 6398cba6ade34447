/**
 * The baseline: a bare Fastify route returning a constant, in a process started exactly like the
 * Latchkey server (same Node flags, same loader), so a ratio to it measures what Latchkey adds.
 */
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.get("/baseline", async () => ({ userId: 1 }));
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
await app.listen({ host: "127.0.0.1", port: Number(process.env.BENCH_PORT) });
