/**
 * Descriptor exhaustion in the service must not put a uid back in the pool while a process of
 * that uid still runs. The reaper lists a uid's processes by reading every /proc/<pid>/status
 * file. When the service is short of descriptors those reads fail, and a failed read must keep
 * the uid out of the pool rather than count as "no process there". The test lowers the running
 * service's soft RLIMIT_NOFILE with prlimit(1), leaving room for an execution's pipes but not
 * for a scan of /proc.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { execText, startServer, type TestServer } from "../helpers/server.js";
import { findSandboxProcesses } from "../helpers/sandbox.js";
import { delay } from "./support.js";

const run = promisify(execFile);
/** Descriptors left free beyond those open at idle: enough for one execution's pipes. */
const SPARE_FDS = 16;
const HARD_LIMIT = 20000;

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await setSoftLimit(HARD_LIMIT);
  await server.stop();
  // An orphan that survived a failing run is this test's own; end it so later tests start clean.
  for (const pid of await findSandboxProcesses()) {
    process.kill(pid, "SIGKILL");
  }
});

async function setSoftLimit(soft: number): Promise<void> {
  const pid = String(server.process.pid);
  await run("/usr/bin/prlimit", [`--pid=${pid}`, `--nofile=${soft}:${HARD_LIMIT}`]);
}

describe("descriptor shortage", () => {
  it("never reuses the uid of a live orphan", async () => {
    const openFds = (await readdir(`/proc/${server.process.pid}/fd`)).length;
    await setSoftLimit(openFds + SPARE_FDS);
    const code = "import os, time\nif os.fork() == 0:\n    time.sleep(10)\n    os._exit(0)\nx = 1";
    const response = await execText(server.url, code);
    await delay(500);
    await setSoftLimit(HARD_LIMIT);
    const orphanUids = await Promise.all((await findSandboxProcesses()).map(readUid));
    const reusedUids: number[] = [];
    for (let run = 0; run < 3; run += 1) {
      const next = await execText(server.url, "import os\nuid = os.getuid()");
      reusedUids.push(JSON.parse(next.text).globals_dict.uid as number);
    }

    // The orphan is either killed, or its uid stays out of the pool until it is gone.
    expect([200, 500]).toContain(response.status);
    for (const uid of reusedUids) {
      expect(orphanUids).not.toContain(uid);
    }
  });
});

async function readUid(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}
