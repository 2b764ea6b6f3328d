/**
 * A runner killed from outside (the OOM killer, an operator's kill -9) while the code sleeps is
 * the user's failure as codejail reports it: 200 with status -9, and the service stays healthy.
 */
import { execText, startServer, type TestServer } from "../helpers/server.js";
import {
  findRunnerPids,
  sleepCode,
  waitForNoLeftovers,
  waitForStartedExecution,
} from "./support.js";

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.stop();
});

describe("runner killed with SIGKILL", () => {
  it("returns 200 with status -9", async () => {
    const pending = execText(server.url, sleepCode(2), '{"a": 1}');
    await waitForStartedExecution();
    const pids = await findRunnerPids();
    expect(pids).toHaveLength(1);

    process.kill(pids[0]!, "SIGKILL");
    const response = await pending;

    expect(response.status).toBe(200);
    expect(response.text).toBe(
      '{"globals_dict":{"a":1},"emsg":"Couldn\'t execute jailed code: stdout: b\'\', ' +
        "stderr: b'' with status code: -9\"}",
    );
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });

  it("leaves the service healthy and executing", async () => {
    const health = await fetch(`${server.url}/health/`);
    const response = await execText(server.url, "x = x + 1", '{"x": 1}');

    expect(health.status).toBe(200);
    expect(await health.text()).toBe('{"status":"OK"}');
    expect(response.status).toBe(200);
    expect(response.text).toBe('{"globals_dict":{"x":2}}');
  });

  it("logs the kill as the code's error", async () => {
    expect(server.logs()).toContain('"outcome":"executed.error"');
    expect(server.logs()).not.toContain('"outcome":"failed.');
  });
});
