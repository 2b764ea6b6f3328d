/**
 * Starts the compiled service under the Functions Framework on a loopback port, counts the
 * outcome label of each request from its JSON log lines, and stops it with SIGTERM.
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FRAMEWORK_CLI = path.join(ROOT, "node_modules/.bin/functions-framework");
const SOURCE = path.join(ROOT, "dist/function/index.js");
const STARTUP_TIMEOUT_MS = 30_000;
const KEPT_LOG_LINES = 40;
/** The first ERROR log lines are kept for the report, so a failure can be traced. */
const KEPT_ERROR_LINES = 10;

/**
 * Starts the service with the sandbox isolation settings and extra variables, and resolves once
 * its safety check has passed and /health/ returns 200.
 */
export async function startService({ execRoot, uidBase, uidCount, env }) {
  await mkdir(execRoot, { recursive: true, mode: 0o711 });
  const port = await findFreePort();
  const child = spawn(FRAMEWORK_CLI, ["--target=codejail", `--source=${SOURCE}`], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      NODE_ENV: "production",
      CODEJAIL_EXEC_ROOT: execRoot,
      CODEJAIL_SANDBOX_UID_BASE: String(uidBase),
      CODEJAIL_SANDBOX_UID_COUNT: String(uidCount),
      // The executor the test helpers pick: CODEJAIL_TEST_EXECUTOR, else a fresh interpreter per
      // execution. Services without that setting ignore it.
      CODEJAIL_EXECUTOR: process.env.CODEJAIL_TEST_EXECUTOR ?? "fresh",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });

  const outcomes = new Map();
  const recentLines = [];
  const errorLines = [];
  const readLines = (stream) => {
    let partial = "";
    stream.on("data", (chunk) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop();
      for (const line of lines) {
        countOutcome(line, outcomes);
        if (line.includes('"severity":"ERROR"') && errorLines.length < KEPT_ERROR_LINES) {
          errorLines.push(line.slice(0, 1000));
        }
        recentLines.push(line.slice(0, 500));
        recentLines.splice(0, Math.max(0, recentLines.length - KEPT_LOG_LINES));
      }
    });
  };
  readLines(child.stdout);
  readLines(child.stderr);

  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, child, recentLines);
  return { url, pid: child.pid, outcomes, errorLines, stop: () => stopService(child) };
}

function countOutcome(line, outcomes) {
  if (!line.startsWith("{")) {
    return;
  }
  try {
    const entry = JSON.parse(line);
    if (typeof entry.outcome === "string") {
      outcomes.set(entry.outcome, (outcomes.get(entry.outcome) ?? 0) + 1);
    }
  } catch {
    // Not a log entry of the service; the framework also prints plain lines.
  }
}

async function waitForHealthy(url, child, recentLines) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`service exited during start-up:\n${recentLines.join("\n")}`);
    }
    const health = await fetch(`${url}/health/`).catch(() => undefined);
    if (health?.status === 200) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new Error(
    `service not healthy within ${STARTUP_TIMEOUT_MS} ms:\n${recentLines.join("\n")}`,
  );
}

/** Sends SIGTERM and resolves with the exit code and the time the drain took. */
function stopService(child) {
  const startedMs = Date.now();
  if (child.exitCode !== null) {
    return Promise.resolve({ exitCode: child.exitCode, signal: null, drainMs: 0 });
  }
  return new Promise((resolve) => {
    child.once("exit", (exitCode, signal) =>
      resolve({ exitCode, signal, drainMs: Date.now() - startedMs }),
    );
    child.kill("SIGTERM");
  });
}

function findFreePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
