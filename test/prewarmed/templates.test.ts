/**
 * The template pool. Templates are replaced after their execution and age budgets, and a killed
 * template is replaced without failing the next request. An execution running on a killed
 * template fails with a 500 that leaves the service healthy. Several templates share the load.
 * Each execution reports its template through os.getppid().
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { findSandboxProcesses } from "../helpers/sandbox.js";
import { exec, execText, startServer, TEST_EXEC_ROOT, type TestServer } from "../helpers/server.js";
import {
  delay,
  findTemplates,
  REPORT_TEMPLATE,
  toExtraServiceEnv,
  waitForValue,
} from "./support.js";

const MAX_EXECUTIONS = 3;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    CODEJAIL_EXECUTOR: "prewarmed",
    CODEJAIL_TEMPLATE_MAX_EXECUTIONS: String(MAX_EXECUTIONS),
    CODEJAIL_TEMPLATE_COUNT: "1",
  });
});

afterAll(async () => {
  await server.stop();
});

async function runOnTemplate(url = server.url): Promise<number> {
  const result = await exec(url, REPORT_TEMPLATE);
  expect(result.emsg).toBeUndefined();
  return result.globals.template as number;
}

/** Waits until an execution directory contains `tmp/started`, the mark of running user code. */
async function waitForStartedCode(timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const roots = [TEST_EXEC_ROOT, ...(await listSlotDirs())];
    for (const root of roots) {
      for (const name of (await readdir(root).catch(() => [])).filter((n) =>
        n.startsWith("exec-"),
      )) {
        if (await stat(path.join(root, name, "tmp", "started")).catch(() => undefined)) {
          return;
        }
      }
    }
    await delay(20);
  }
  throw new Error(`no execution started its code within ${timeoutMs} ms`);
}

async function listSlotDirs(): Promise<string[]> {
  const names = await readdir(TEST_EXEC_ROOT).catch(() => []);
  return names
    .filter((name) => name.startsWith("slot-"))
    .map((name) => path.join(TEST_EXEC_ROOT, name));
}

describe("template recycling", () => {
  it("serves at most the execution budget per template", async () => {
    const templates: number[] = [];
    for (let i = 0; i < 3 * MAX_EXECUTIONS + 1; i += 1) {
      templates.push(await runOnTemplate());
    }
    const counts = new Map<number, number>();
    templates.forEach((pid) => counts.set(pid, (counts.get(pid) ?? 0) + 1));

    expect(counts.size).toBeGreaterThanOrEqual(4);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(MAX_EXECUTIONS);
    const countTemplates = async () => (await findTemplates(server.process.pid!)).length;
    expect(await waitForValue(countTemplates, 1)).toBe(1);
  });

  it("replaces a template after its age budget", async () => {
    const young = await startServer({
      CODEJAIL_EXECUTOR: "prewarmed",
      CODEJAIL_TEMPLATE_MAX_AGE_SECONDS: "2",
      ...toExtraServiceEnv("age", 700),
    });
    try {
      const first = await runOnTemplate(young.url);
      await delay(3000);
      const second = await runOnTemplate(young.url);

      expect(second).not.toBe(first);
    } finally {
      await young.stop();
    }
  });
});

describe("killed template", () => {
  it("is replaced and the next request succeeds", async () => {
    const killed = await runOnTemplate();
    process.kill(killed, "SIGKILL");
    const next = await exec(server.url, `${REPORT_TEMPLATE}\nx = x + 1`, { x: 1 });

    expect(next.status).toBe(200);
    expect(next.emsg).toBeUndefined();
    expect(next.globals.x).toBe(2);
    expect(next.globals.template).not.toBe(killed);
    expect(server.logs()).toContain('"message":"Template exited"');
  });

  it("fails its running execution with a 500 and stays healthy", async () => {
    const template = await runOnTemplate();
    const pending = execText(
      server.url,
      "import time\nopen('tmp/started', 'w').close()\ntime.sleep(2)\ndone = True",
    );
    await waitForStartedCode();
    process.kill(template, "SIGKILL");
    const response = await pending;
    const health = await fetch(`${server.url}/health/`);
    const next = await exec(server.url, "x = 1");

    expect(response.status).toBe(500);
    expect(JSON.parse(response.text)).toEqual({
      error: "Code execution failed because of an internal error",
    });
    expect(health.status).toBe(200);
    expect(next.globals.x).toBe(1);
    expect(await findSandboxProcesses()).toEqual([]);
    expect(server.logs()).toContain('"outcome":"failed.template_exited"');
  });
});

describe("several templates", () => {
  it("share concurrent executions", async () => {
    const pair = await startServer({
      CODEJAIL_EXECUTOR: "prewarmed",
      CODEJAIL_TEMPLATE_COUNT: "2",
      ...toExtraServiceEnv("pair", 800),
    });
    try {
      const code = `${REPORT_TEMPLATE}\nimport time\ntime.sleep(0.5)`;
      const results = await Promise.all(Array.from({ length: 4 }, () => exec(pair.url, code)));
      const templates = new Set(results.map((result) => result.globals.template));

      expect(templates.size).toBe(2);
      const templateUid = Number(toExtraServiceEnv("pair", 800).CODEJAIL_SANDBOX_UID_BASE) - 1;
      expect(await findTemplates(pair.process.pid!, templateUid)).toHaveLength(2);
    } finally {
      await pair.stop();
    }
  });
});
