/**
 * Shared set-up for the sandbox tests: one real service per test file, started with a canary
 * environment variable the code must not see. SANDBOX_TESTS_UNCONFINED=1 starts it with
 * confinement switched off, for the check that every `deny` test then fails.
 */
import { readdir, readFile } from "node:fs/promises";
import { exec, startServer, TEST_UID_BASE, TEST_UID_COUNT, type TestServer } from "./server.js";

export const CANARY_VARIABLE = "CODEJAIL_TEST_CANARY";

export function startSandboxServer(env: Record<string, string> = {}): Promise<TestServer> {
  const unconfined = process.env.SANDBOX_TESTS_UNCONFINED === "1";
  return startServer({
    [CANARY_VARIABLE]: "service-secret",
    ...(unconfined ? { CODEJAIL_UNCONFINED_FOR_TESTS: "true" } : {}),
    ...env,
  });
}

/** Runs code and returns the emsg, failing the test when the code unexpectedly succeeded. */
export async function expectError(url: string, code: string): Promise<string> {
  const result = await exec(url, code);
  if (result.emsg === undefined) {
    throw new Error(`code ran without error; globals: ${JSON.stringify(result.globals)}`);
  }
  return result.emsg;
}

/** Lists live processes whose real uid belongs to the sandbox pool. */
export async function findSandboxProcesses(): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    const isSandbox = uid >= TEST_UID_BASE && uid < TEST_UID_BASE + TEST_UID_COUNT;
    if (isSandbox && state !== "Z") {
      found.push(Number(pid));
    }
  }
  return found;
}
