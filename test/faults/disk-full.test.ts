/**
 * A full execution disk: each slot's filesystem has room for CODEJAIL_DISK_BYTES, so code that
 * writes many files, each under FSIZE, fails with ENOSPC inside the sandbox, and the next
 * execution in the same slot finds the space free again. The service runs with an execution root
 * of its own, so its slot filesystems have the size this file sets, and they are unmounted at the
 * end.
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { execText, startServer, TEST_EXEC_ROOT, type TestServer } from "../helpers/server.js";
import { unmountSlots, waitForExit, waitForNoLeftovers } from "./support.js";

const ROOT = path.join(TEST_EXEC_ROOT, "fault-disk-full");
const MIB = 1024 * 1024;
const NO_SPACE = "OSError: [Errno 28] No space left on device";

/** Builds code that writes `count` files of `sizeBytes` each into tmp/, then sets `written`. */
function writeFilesCode(count: number, sizeBytes: number): string {
  return [
    "for i in range(" + count + "):",
    "    with open('tmp/f%d' % i, 'wb') as f:",
    "        f.write(b'x' * " + sizeBytes + ")",
    "written = True",
  ].join("\n");
}

/** Starts a service with one slot, so consecutive executions share one filesystem. */
function startDiskServer(diskBytes: number): Promise<TestServer> {
  return startServer({
    CODEJAIL_EXEC_ROOT: ROOT,
    CODEJAIL_DISK_BYTES: String(diskBytes),
    CODEJAIL_SANDBOX_UID_COUNT: "1",
    CODEJAIL_MAX_CONCURRENCY: "1",
  });
}

let server: TestServer;

beforeAll(async () => {
  await mkdir(ROOT, { recursive: true, mode: 0o711 });
  server = await startDiskServer(4 * MIB);
});

afterAll(async () => {
  await server.stop();
  await unmountSlots(ROOT);
  await rm(ROOT, { recursive: true, force: true });
});

describe("full execution disk", () => {
  it("fails the code with ENOSPC", async () => {
    const response = await execText(server.url, writeFilesCode(40, 256 * 1024), '{"a": 1}');
    const body = JSON.parse(response.text) as { globals_dict: unknown; emsg: string };

    expect(response.status).toBe(200);
    expect(body.globals_dict).toEqual({ a: 1 });
    expect(body.emsg).toMatch(/^Couldn't execute jailed code: stdout: b'', stderr: b'Traceback/);
    expect(body.emsg).toContain(`${NO_SPACE}\\n' with status code: 1`);
    expect(await waitForNoLeftovers(ROOT)).toEqual({ processes: [], dirs: [] });
  });

  it("frees the space for the next execution", async () => {
    for (let run = 0; run < 3; run += 1) {
      const response = await execText(server.url, writeFilesCode(12, 256 * 1024));

      expect(response.status).toBe(200);
      expect(response.text).toBe('{"globals_dict":{"i":11,"written":true}}');
    }
    expect(await waitForNoLeftovers(ROOT)).toEqual({ processes: [], dirs: [] });
  });

  it("applies a smaller size after a restart", async () => {
    await server.stop();
    server = await startDiskServer(1 * MIB);
    const response = await execText(server.url, writeFilesCode(12, 256 * 1024));

    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).emsg).toContain(NO_SPACE);
  });

  it("applies a smaller size after a crash", async () => {
    await server.stop();
    server = await startDiskServer(4 * MIB);
    await execText(server.url, "x = 1");
    // A crash skips the unmounting that a graceful shutdown does.
    server.process.kill("SIGKILL");
    await waitForExit(server.process, 5000);
    server = await startDiskServer(1 * MIB);
    const response = await execText(server.url, writeFilesCode(12, 256 * 1024));

    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).emsg).toContain(NO_SPACE);
  });
});
