/**
 * What one execution can leave behind for later executions of the same sandbox uid. The service
 * runs with a single uid, so every request reuses it.
 * - A process that the code creates with clone(CLONE_PARENT) becomes a child of the template
 *   (of the service itself under the fresh executor), which never reaps it. Its zombie keeps the
 *   slot's pids.current above zero, and the uid is withheld from the pool for good.
 * - System V shared memory segments outlive the process that made them. The next execution on
 *   the uid can attach them, and their pages stay charged to the slot's memory cgroup.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { exec, startServer, type TestServer } from "../helpers/server.js";

/** How long a request on a healthy service may take here, with the default REALTIME of 3 s. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The System V key of the shared memory test, whose segment afterAll removes. */
const SHM_KEY = 0x5ec2e7;

const CLONE_PARENT_CODE = [
  "import ctypes, os",
  "libc = ctypes.CDLL(None, use_errno=True)",
  "CLONE_PARENT, SIGCHLD, SYS_CLONE = 0x00008000, 17, 56",
  "child = libc.syscall(SYS_CLONE, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)",
  "if child == 0:",
  "    os._exit(0)",
  "parent = os.getppid()",
].join("\n");

const SHM_CREATE_CODE = [
  "import ctypes",
  "libc = ctypes.CDLL(None, use_errno=True)",
  "libc.shmat.restype = ctypes.c_void_p",
  `segment = libc.shmget(${SHM_KEY}, 4096, 0o1000 | 0o600)`,
  "address = libc.shmat(segment, None, 0)",
  "ctypes.memmove(address, b'left by execution A', 19)",
].join("\n");

const SHM_FIND_CODE = [
  "import ctypes",
  "libc = ctypes.CDLL(None, use_errno=True)",
  `found = libc.shmget(${SHM_KEY}, 0, 0) >= 0`,
].join("\n");

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    CODEJAIL_EXECUTOR: "prewarmed",
    CODEJAIL_SANDBOX_UID_COUNT: "1",
  });
});

afterAll(async () => {
  await server.stop();
  // The segment outlives the service, so the test removes it as root.
  await promisify(execFile)("ipcrm", ["-M", String(SHM_KEY)]).catch(() => undefined);
});

/** Runs code, and rejects when no response came within REQUEST_TIMEOUT_MS. */
async function execWithin(code: string) {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => {
      const message = `request timed out after ${REQUEST_TIMEOUT_MS} ms. Is the uid withheld?`;
      reject(new Error(message));
    }, REQUEST_TIMEOUT_MS).unref(),
  );
  return Promise.race([exec(server.url, code), timeout]);
}

describe("leftovers of an execution", () => {
  // The shared memory case runs first, because the CLONE_PARENT case, while it fails, leaves
  // the service without a free uid.
  it("System V segment not visible to next execution", async () => {
    const created = await execWithin(SHM_CREATE_CODE);
    expect(created.emsg).toBeUndefined();

    const next = await execWithin(SHM_FIND_CODE);
    expect(next.emsg).toBeUndefined();
    expect(next.globals.found).toBe(false);
  }, 30_000);

  it("CLONE_PARENT zombie keeps uid usable", async () => {
    const attack = await execWithin(CLONE_PARENT_CODE);
    expect(attack.emsg).toBeUndefined();

    const next = await execWithin("x = 1");
    expect(next.globals.x).toBe(1);
  }, 30_000);
});
