/**
 * SIGTERM with executions in flight: running requests finish and get their responses, new ones
 * get 503 with Retry-After, and the process exits 0. An execution still running when the grace
 * period ends is killed and its directory removed before the process exits.
 */
import { execText, startServer, type TestServer } from "../helpers/server.js";
import {
  sleepCode,
  waitForExit,
  waitForNoLeftovers,
  waitForStartedExecution,
} from "./support.js";

/** Time the drain may take after the grace period: killing the pool's uids and removing dirs. */
const CLEAN_UP_ALLOWANCE_MS = 3000;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe("graceful shutdown", () => {
  it("finishes running executions and refuses new ones", async () => {
    const graceMs = 8000;
    server = await startServer({ CODEJAIL_SHUTDOWN_GRACE_MS: String(graceMs) });
    const running = execText(server.url, sleepCode(2), '{"a": 1}');
    await waitForStartedExecution();

    const signalledMs = Date.now();
    server.process.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await execText(server.url, "x = 1");
    const health = await fetch(`${server.url}/health/`);

    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
    expect(refused.text).toBe('{"error":"Service is shutting down; retry on another instance"}');
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
    const running = execText(server.url, sleepCode(15)).catch((error: unknown) => error);
    await waitForStartedExecution();

    const signalledMs = Date.now();
    server.process.kill("SIGTERM");
    const exit = await waitForExit(server.process, graceMs + CLEAN_UP_ALLOWANCE_MS);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledMs).toBeGreaterThanOrEqual(graceMs);
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
    expect(server.logs()).toContain('"message":"Drained"');
    expect(server.logs()).toContain('"abandonedRequests":1');
    // The client either got the killed execution's answer or saw the connection close.
    const outcome = await running;
    if (!(outcome instanceof Error)) {
      expect(outcome).toMatchObject({ status: 200 });
    }
  });
});
