/**
 * Start-up removes what a crashed predecessor left: execution directories under the execution
 * root and inside the slot filesystems, and processes of the pool's uids, before the safety check
 * and before any request.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chown, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  execText,
  startServer,
  TEST_EXEC_ROOT,
  TEST_UID_BASE,
  type TestServer,
} from "../helpers/server.js";
import { findSandboxProcesses } from "../helpers/sandbox.js";
import {
  listExecutionDirs,
  sleepCode,
  waitForExit,
  waitForNoLeftovers,
  waitForStartedExecution,
} from "./support.js";

/** The sandbox gid the services run executions with (CODEJAIL_SANDBOX_GID's default). */
const SANDBOX_GID = 2_002_717_000;
const LEFTOVER_UID = TEST_UID_BASE + 7;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** Starts `sleep` as a pool uid, the way an orphan of an execution would run. */
function startPoolProcess(): ChildProcess {
  return spawn(
    "/usr/bin/setpriv",
    [
      `--reuid=${LEFTOVER_UID}`,
      `--regid=${SANDBOX_GID}`,
      "--clear-groups",
      "/usr/bin/sleep",
      "600",
    ],
    { stdio: "ignore" },
  );
}

describe("leftovers at start-up", () => {
  it("removes stale directory and process", async () => {
    const stale = path.join(TEST_EXEC_ROOT, "exec-fault-stale");
    await mkdir(path.join(stale, "tmp"), { recursive: true });
    await writeFile(path.join(stale, "jailed_code"), "x = 1\n");
    await chown(path.join(stale, "tmp"), LEFTOVER_UID, SANDBOX_GID);
    const orphan = startPoolProcess();
    await new Promise((resolve) => orphan.once("spawn", resolve));
    expect(await findSandboxProcesses()).toContain(orphan.pid);

    server = await startServer();

    expect(await waitForExit(orphan, 1000)).toEqual({ code: null, signal: "SIGKILL" });
    expect(await listExecutionDirs()).toEqual([]);
    expect(await findSandboxProcesses()).toEqual([]);
    expect(server.logs()).toContain('"message":"Removed leftover executions"');
  });

  it("cleans up after a service killed mid-execution", async () => {
    const crashed = await startServer({ CODEJAIL_LIMITS: '{"CPU": 20, "REALTIME": 20}' });
    const running = execText(crashed.url, sleepCode(15)).catch(() => undefined);
    await waitForStartedExecution();
    crashed.process.kill("SIGKILL");
    await waitForExit(crashed.process, 5000);
    await running;
    // A crash leaves the runner sleeping and its directory in place.
    expect(await findSandboxProcesses()).not.toEqual([]);
    expect(await listExecutionDirs()).toHaveLength(1);

    server = await startServer();

    expect(await findSandboxProcesses()).toEqual([]);
    expect(await listExecutionDirs()).toEqual([]);
    const response = await execText(server.url, "x = 1");
    expect(response.text).toBe('{"globals_dict":{"x":1}}');
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });
});
