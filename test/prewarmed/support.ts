/**
 * Shared helpers of the prewarmed executor's tests: the template processes of a service, read
 * from /proc, and code that reports which template forked it.
 */
import { readdir, readFile } from "node:fs/promises";
import { TEST_EXEC_ROOT, TEST_UID_BASE } from "../helpers/server.js";

/** The template uid of the services the tests start: one below the pool's first uid. */
export const TEMPLATE_UID = TEST_UID_BASE - 1;

/** Code that sets `template` to the pid of the template that forked the child. */
export const REPORT_TEMPLATE = "import os\ntemplate = os.getppid()";

/** Reads /proc/<pid>/status into its fields, or undefined when the process is gone. */
export async function readStatus(pid: number): Promise<Record<string, string> | undefined> {
  const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => undefined);
  if (text === undefined) {
    return undefined;
  }

  const fields: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const [name, ...rest] = line.split(":");
    fields[name!] = rest.join(":").trim();
  }
  return fields;
}

/** Lists the live templates, running as `templateUid`, of the service process `servicePid`. */
export async function findTemplates(
  servicePid: number,
  templateUid = TEMPLATE_UID,
): Promise<number[]> {
  const found: number[] = [];
  for (const name of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry))) {
    const status = await readStatus(Number(name));
    const isTemplate = status?.Uid?.split(/\s+/)[0] === String(templateUid);
    if (isTemplate && status?.PPid === String(servicePid) && status.State?.[0] !== "Z") {
      found.push(Number(name));
    }
  }
  return found;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Uids and an execution root for an extra service of a test file, `offset` uids above the main
 * service's pool (which takes 64) and apart from SECOND_SERVICE_ENV's (500).
 */
export function toExtraServiceEnv(name: string, offset: number): Record<string, string> {
  return {
    CODEJAIL_SANDBOX_UID_BASE: String(TEST_UID_BASE + offset),
    CODEJAIL_EXEC_ROOT: `${TEST_EXEC_ROOT}-${name}`,
  };
}

/** Polls `read` until it returns `expected`, and returns the last value after `timeoutMs`. */
export async function waitForValue<T>(read: () => Promise<T>, expected: T, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await delay(50);
    value = await read();
  }
  return value;
}
