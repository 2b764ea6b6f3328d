/**
 * Spare children: the prewarmed executor keeps CODEJAIL_TEMPLATE_SPARES children forked ahead of
 * requests. A spare waits under the template's uid, so it is not a process of the sandbox pool,
 * and it is already inside the slot cgroups of the uid it will take. A spare that dies is
 * replaced, and a service draining on SIGTERM ends its spares.
 */
import { readdir, readFile } from "node:fs/promises";
import { findSandboxProcesses } from "../helpers/sandbox.js";
import {
  exec,
  startServer,
  TEST_UID_BASE,
  TEST_UID_COUNT,
  type TestServer,
} from "../helpers/server.js";
import {
  delay,
  findTemplates,
  readStatus,
  TEMPLATE_UID,
  toExtraServiceEnv,
  waitForValue,
} from "./support.js";

const SPARES = 3;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    CODEJAIL_EXECUTOR: "prewarmed",
    CODEJAIL_TEMPLATE_COUNT: "1",
    CODEJAIL_TEMPLATE_SPARES: String(SPARES),
  });
});

afterAll(async () => {
  await server.stop();
});

/** Lists the live children, under the template uid, of the templates of `servicePid`. */
async function findSpares(servicePid: number, templateUid = TEMPLATE_UID): Promise<number[]> {
  const templates = new Set((await findTemplates(servicePid, templateUid)).map(String));
  const found: number[] = [];
  for (const name of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry))) {
    const status = await readStatus(Number(name));
    const isTemplateUid = status?.Uid?.split(/\s+/)[0] === String(templateUid);
    if (isTemplateUid && templates.has(status?.PPid ?? "") && status?.State?.[0] !== "Z") {
      found.push(Number(name));
    }
  }
  return found;
}

/** Starts an extra service (toExtraServiceEnv) with `count` spares; returns its template uid. */
async function startWithSpares(count: number, name: string, offset: number) {
  const env = toExtraServiceEnv(name, offset);
  const extra = await startServer({
    CODEJAIL_EXECUTOR: "prewarmed",
    CODEJAIL_TEMPLATE_SPARES: String(count),
    ...env,
  });
  return { server: extra, templateUid: Number(env.CODEJAIL_SANDBOX_UID_BASE) - 1 };
}

async function countSpares(): Promise<number> {
  return (await findSpares(server.process.pid!)).length;
}

describe("spare children", () => {
  it("wait under the template's uid, outside the sandbox pool", async () => {
    await exec(server.url, "x = 1");

    expect(await waitForValue(countSpares, SPARES)).toBe(SPARES);
    expect(await findSandboxProcesses()).toEqual([]);
  });

  it("wait inside the slot cgroups of a pool uid", async () => {
    expect(await waitForValue(countSpares, SPARES)).toBe(SPARES);
    const cgroups = await readFile("/proc/self/cgroup", "utf8");
    for (const pid of await findSpares(server.process.pid!)) {
      const membership = await readFile(`/proc/${pid}/cgroup`, "utf8");

      expect(membership).toMatch(/:pids:.*\/codejail\/uid-\d+\n/);
      expect(membership).not.toEqual(cgroups);
    }
  });

  it("are replaced when killed, and requests go on", async () => {
    // Killed just before the next request, a spare may still look alive when it is taken: the
    // execution then runs on a new child.
    expect(await waitForValue(countSpares, SPARES)).toBe(SPARES);
    for (const pid of await findSpares(server.process.pid!)) {
      process.kill(pid, "SIGKILL");
    }
    const results = [];
    for (let round = 0; round < 5; round += 1) {
      results.push(await exec(server.url, "x = x + 1", { x: round }));
    }

    expect(results.map((result) => result.globals.x)).toEqual([1, 2, 3, 4, 5]);
    expect(results.every((result) => result.emsg === undefined)).toBe(true);
    expect(await waitForValue(countSpares, SPARES)).toBe(SPARES);
  });

  it("serve more concurrent executions than there are spares", async () => {
    const code = "import os, time\ntime.sleep(0.2)\nuid = os.getuid()";
    const results = await Promise.all(
      Array.from({ length: SPARES * 3 }, () => exec(server.url, code)),
    );

    expect(results.map((result) => result.emsg)).toEqual(results.map(() => undefined));
    for (const result of results) {
      expect(result.globals.uid).toBeGreaterThanOrEqual(TEST_UID_BASE);
      expect(result.globals.uid).toBeLessThan(TEST_UID_BASE + TEST_UID_COUNT);
    }
  });

  it("end when the service drains on SIGTERM", async () => {
    const { server: draining, templateUid } = await startWithSpares(2, "spares", 700);
    const pid = draining.process.pid!;
    await exec(draining.url, "x = 1");
    const spares = await waitForValue(async () => (await findSpares(pid, templateUid)).length, 2);
    const before = await findSpares(pid, templateUid);
    await draining.stop();
    await delay(200);
    const alive = await Promise.all(before.map((spare) => readStatus(spare)));

    expect(spares).toBe(2);
    expect(alive.filter((status) => status !== undefined && status.State?.[0] !== "Z")).toEqual([]);
  });

  it("are not kept with CODEJAIL_TEMPLATE_SPARES=0", async () => {
    const { server: none, templateUid } = await startWithSpares(0, "nospares", 800);
    try {
      const result = await exec(none.url, "x = x + 1", { x: 1 });
      await delay(300);

      expect(result.globals.x).toBe(2);
      expect(await findSpares(none.process.pid!, templateUid)).toEqual([]);
    } finally {
      await none.stop();
    }
  });
});
