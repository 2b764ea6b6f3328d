/**
 * SIGTERM while the startup safety check runs: the check's executions are not HTTP requests, so
 * the drain must still stop new ones and wait for running ones, or a directory made after its
 * clean-up stays behind. The service is stopped at several moments of its check.
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findSandboxProcesses } from "../helpers/sandbox.js";
import { TEST_EXEC_ROOT, TEST_EXECUTOR, TEST_UID_BASE } from "../helpers/server.js";
import { delay, listExecutionDirs, unmountSlots, waitForExit } from "./support.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FRAMEWORK_CLI = path.join(ROOT, "node_modules/.bin/functions-framework");
const EXEC_ROOT = `${TEST_EXEC_ROOT}-startup-stop`;
const FIRST_CHECK_LINE = "Startup check 'Basic code execution'";

afterAll(async () => {
  await unmountSlots(EXEC_ROOT);
});

/** Starts a service, sends SIGTERM `delayMs` after its first check result, and waits for exit. */
async function stopDuringCheck(delayMs: number) {
  await mkdir(EXEC_ROOT, { recursive: true, mode: 0o711 });
  const child = spawn(
    FRAMEWORK_CLI,
    ["--target=codejail", `--source=${path.join(ROOT, "dist/function/index.js")}`],
    {
      env: {
        PATH: process.env.PATH,
        PORT: "0",
        CODEJAIL_SANDBOX_UID_BASE: String(TEST_UID_BASE + 600),
        CODEJAIL_EXEC_ROOT: EXEC_ROOT,
        CODEJAIL_EXECUTOR: TEST_EXECUTOR,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  const firstCheck = new Promise<void>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(FIRST_CHECK_LINE)) {
        resolve();
      }
    });
  });
  await Promise.race([firstCheck, delay(30_000)]);
  await delay(delayMs);
  child.kill("SIGTERM");
  return { exit: await waitForExit(child, 15_000), output };
}

describe("SIGTERM during the startup check", () => {
  it.each([0, 15, 40])(
    "leaves nothing behind when sent %i ms in",
    async (delayMs) => {
      const { exit, output } = await stopDuringCheck(delayMs);

      expect(output).toContain(FIRST_CHECK_LINE);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(await listExecutionDirs(EXEC_ROOT)).toEqual([]);
      expect(await findSandboxProcesses()).toEqual([]);
    },
    60_000,
  );
});
