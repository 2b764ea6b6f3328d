// Starts the real service (the compiled function under the Functions Framework's CLI) for one
// executor, waits for its safety check, samples the resident memory of Node and its templates
// from /proc, and stops it again.
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";

const STARTUP_TIMEOUT_MS = 60_000;
const RSS_SAMPLE_MS = 100;

/** Starts a service on `port` and resolves once /health/ returns 200. */
export async function startService({ root, port, executor, uidBase, execRoot, env, runAs }) {
  await mkdir(execRoot, { recursive: true, mode: 0o711 });
  const cli = path.join(root, "node_modules/@google-cloud/functions-framework/build/src/main.js");
  const child = spawn(
    process.execPath,
    [cli, "--target=codejail", `--source=${path.join(root, "dist/function/index.js")}`],
    {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        CODEJAIL_EXECUTOR: executor,
        CODEJAIL_SANDBOX_UID_BASE: String(uidBase),
        CODEJAIL_EXEC_ROOT: execRoot,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      ...runAs,
    },
  );
  let logs = "";
  child.stdout.on("data", (chunk) => (logs += chunk));
  child.stderr.on("data", (chunk) => (logs += chunk));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`service exited during start-up:\n${logs}`);
    }
    const health = await fetch(`${url}/health/`).catch(() => undefined);
    if (health?.status === 200) {
      return { url, child, logs: () => logs };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGTERM");
  throw new Error(
    `service did not pass its safety check within ${STARTUP_TIMEOUT_MS} ms:\n${logs}`,
  );
}

export async function stopService(service) {
  if (service.child.exitCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => service.child.once("exit", resolve));
  service.child.kill("SIGTERM");
  await exited;
}

/**
 * Samples, until stopped, the summed VmRSS of the Node process and its template children
 * (python running template.py). Forked executions are left out: most of their pages are the
 * template's. Returns a function that stops sampling and returns the peak in bytes.
 */
export function sampleRss(pid) {
  let peak = 0;
  let isSampling = true;
  const loop = (async () => {
    while (isSampling) {
      peak = Math.max(peak, await readServiceRss(pid));
      await new Promise((resolve) => setTimeout(resolve, RSS_SAMPLE_MS));
    }
  })();
  return async () => {
    isSampling = false;
    await loop;
    return peak;
  };
}

async function readServiceRss(pid) {
  let total = await readRss(pid);
  for (const name of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry))) {
    const status = await readFile(`/proc/${name}/status`, "utf8").catch(() => "");
    if (/^PPid:\s+(\d+)/m.exec(status)?.[1] !== String(pid)) {
      continue;
    }
    const commandLine = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (commandLine.split("\0").some((arg) => arg.endsWith("/template.py"))) {
      total += toRssBytes(status);
    }
  }
  return total;
}

async function readRss(pid) {
  return toRssBytes(await readFile(`/proc/${pid}/status`, "utf8").catch(() => ""));
}

function toRssBytes(status) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}
