/**
 * SIGTERM with executions in flight: running requests finish and get their responses, new ones
 * get 503 with Retry-After, and the process exits 0. An execution still running when the grace
 * period ends is killed and its directory removed before the process exits.
 */
import { execText, startServer, type ServiceResponse, type TestServer } from "../helpers/server.js";
import {
  delay,
  sleepCode,
  waitForExit,
  waitForNoLeftovers,
  waitForStartedExecution,
} from "./support.js";

/**
 * Time the drain may take after the grace period to kill the pool's uids and remove directories:
 * Cloud Run sends SIGKILL 10 s after SIGTERM, and the default grace period is 8 s.
 */
const CLEAN_UP_ALLOWANCE_MS = 2000;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe("graceful shutdown", () => {
  it("finishes running executions, rejects new ones", async () => {
    const graceMs = 8000;
    server = await startServer({ CODEJAIL_SHUTDOWN_GRACE_MS: String(graceMs) });
    const running = execText(server.url, sleepCode(2), '{"a": 1}');
    await waitForStartedExecution();

    const signalledMs = Date.now();
    server.process.kill("SIGTERM");
    await delay(200);
    const rejected = await execText(server.url, "x = 1");
    const health = await fetch(`${server.url}/health/`);

    expect(rejected.status).toBe(503);
    expect(rejected.headers.get("retry-after")).toBe("1");
    expect(rejected.headers.get("content-type")).toMatch(/^application\/json/);
    expect(rejected.text).toBe('{"error":"Service is shutting down; retry on another instance"}');
    expect(health.status).toBe(503);
    expect(await health.text()).toBe('{"status":"UNAVAILABLE"}');

    const finished = await running;
    expect(finished.status).toBe(200);
    expect(finished.text).toBe('{"globals_dict":{"a":1,"done":true}}');

    const exit = await waitForExit(server.process, graceMs);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledMs).toBeLessThan(graceMs);
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });

  it("kills an execution that outlasts the grace period", async () => {
    const graceMs = 1000;
    server = await startServer({
      CODEJAIL_SHUTDOWN_GRACE_MS: String(graceMs),
      CODEJAIL_LIMITS: '{"CPU": 20, "REALTIME": 20}',
    });
    const running = execText(server.url, sleepCode(15)).catch(() => undefined);
    await waitForStartedExecution();

    const signalledMs = Date.now();
    server.process.kill("SIGTERM");
    const exit = await waitForExit(server.process, 10_000);
    const exitedMs = Date.now() - signalledMs;

    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedMs).toBeGreaterThanOrEqual(graceMs);
    expect(exitedMs).toBeLessThan(graceMs + CLEAN_UP_ALLOWANCE_MS);
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
    expect(server.logs()).toContain('"message":"Drained"');
    expect(server.logs()).toContain('"killedRequests":1');
    await running;
  });

  it("returns JSON to a request queued at drain end", async () => {
    server = await startServer({
      CODEJAIL_SHUTDOWN_GRACE_MS: "1000",
      CODEJAIL_LIMITS: '{"CPU": 20, "REALTIME": 20}',
      CODEJAIL_MAX_CONCURRENCY: "1",
      CODEJAIL_MAX_QUEUE: "4",
      CODEJAIL_MAX_QUEUE_WAIT_MS: "20000",
    });
    const running = summarize(execText(server.url, sleepCode(15)));
    await waitForStartedExecution();
    const queued = summarize(execText(server.url, sleepCode(15)));
    await delay(200);

    server.process.kill("SIGTERM");

    // The queued request was accepted before the signal, so it is owed a response the caller can
    // read: the drain's refusal as JSON, not a closed connection or the framework's plain text.
    expect(await queued).toBe(
      '503 {"error":"Service is shutting down; retry on another instance"}',
    );
    expect(await running).toMatch(/^200 \{"globals_dict":\{\},"emsg":/);
    expect(await waitForExit(server.process, 5000)).toEqual({ code: 0, signal: null });
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });
});

/** Describes a response as "<status> <start of body>", or the connection error. */
async function summarize(pending: Promise<ServiceResponse>): Promise<string> {
  try {
    const response = await pending;
    return `${response.status} ${response.text.slice(0, 100)}`;
  } catch (error) {
    const cause = error instanceof Object && "cause" in error ? String(error.cause) : "";
    return `connection failed: ${String(error)} ${cause}`;
  }
}
