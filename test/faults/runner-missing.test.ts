/**
 * The runner disappearing at run time (a broken deploy, a volume gone): the next request gets the
 * fixed 500 sentence, /health/ turns 503, and once the runner is back the rerun safety check
 * restores 200 and execution without a restart. The service runs from a copy of the installed
 * runner in a temporary directory, which the test breaks and repairs.
 */
import { cp, mkdtemp, rename, rm, chmod } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execText, startServer, type TestServer } from "../helpers/server.js";
import { delay, waitForNoLeftovers } from "./support.js";

const INSTALLED_RUNNER_DIR = "/opt/codejail/runner";
/** The safety check reruns every 2 s after a failure; allow two reruns and their probes. */
const RECOVERY_TIMEOUT_MS = 8000;

let server: TestServer;
let runnerDir: string;

beforeAll(async () => {
  runnerDir = await mkdtemp(path.join(os.tmpdir(), "codejail-runner-"));
  // The runner starts under a sandbox uid, which must be able to read it.
  await chmod(runnerDir, 0o755);
  await cp(INSTALLED_RUNNER_DIR, runnerDir, { recursive: true });
  server = await startServer({ CODEJAIL_RUNNER_DIR: runnerDir });
});

afterAll(async () => {
  await server.stop();
  await rm(runnerDir, { recursive: true, force: true });
});

async function readHealth(): Promise<[number, string]> {
  const response = await fetch(`${server.url}/health/`);
  return [response.status, await response.text()];
}

async function waitForHealth(status: number, timeoutMs: number): Promise<number> {
  const startedMs = Date.now();
  while ((await readHealth())[0] !== status && Date.now() - startedMs < timeoutMs) {
    await delay(100);
  }
  return (await readHealth())[0];
}

describe("runner missing at run time", () => {
  const runnerPath = () => path.join(runnerDir, "runner.py");
  const movedPath = () => path.join(runnerDir, "runner.py.moved");

  it("executes while the runner is in place", async () => {
    const response = await execText(server.url, "x = 1");

    expect(response.text).toBe('{"globals_dict":{"x":1}}');
  });

  it("returns the fixed 500 once it is gone", async () => {
    await rename(runnerPath(), movedPath());
    const response = await execText(server.url, "x = 1");

    expect(response.status).toBe(500);
    expect(response.text).toBe('{"error":"Code execution failed because of an internal error"}');
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });

  it("turns /health/ to 503, rejects code", async () => {
    const rejected = await execText(server.url, "x = 1");

    expect(await readHealth()).toEqual([503, '{"status":"UNAVAILABLE"}']);
    expect(rejected.status).toBe(500);
    expect(rejected.text).toBe('{"error":"Codejail service is not correctly configured"}');
  });

  it("stays unavailable while the runner is missing", async () => {
    await delay(2500);

    expect(await readHealth()).toEqual([503, '{"status":"UNAVAILABLE"}']);
  });

  it("recovers without a restart once it is back", async () => {
    await rename(movedPath(), runnerPath());

    expect(await waitForHealth(200, RECOVERY_TIMEOUT_MS)).toBe(200);
    expect(await readHealth()).toEqual([200, '{"status":"OK"}']);
    const response = await execText(server.url, "x = x + 1", '{"x": 41}');
    expect(response.status).toBe(200);
    expect(response.text).toBe('{"globals_dict":{"x":42}}');
  });

  it("logs the failure with its reason", () => {
    const logs = server.logs();

    expect(logs).toMatch(/"outcome":"failed\.sandbox".*"error":"SandboxFailedError: /);
    expect(logs).toContain('"outcome":"disabled.safety_checks_failed"');
  });
});
