/**
 * Starts the real service (the compiled function under the Functions Framework's own CLI) on a
 * free loopback port, and sends requests to it the way edxapp does.
 */
import { ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FRAMEWORK_CLI = path.join(ROOT, "node_modules/.bin/functions-framework");
const STARTUP_TIMEOUT_MS = 20000;

export type TestServer = Readonly<{
  url: string;
  process: ChildProcess;
  logs: () => string;
  stop: () => Promise<void>;
}>;

export type ServiceResponse = Readonly<{ status: number; text: string; headers: Headers }>;

/**
 * Sandbox uids and execution root for the services a test run starts. Two test runs on one
 * machine at once (say, two developers' checkouts) must not share them, because each service
 * kills the processes of its pool's uids and removes directories under its root at start-up.
 * TEST_SANDBOX_NAMESPACE (a small number, default 0) picks a separate set.
 */
const NAMESPACE = Number(process.env.TEST_SANDBOX_NAMESPACE ?? "0");
export const TEST_UID_BASE = 2_002_717_000 + NAMESPACE * 1000;
export const TEST_UID_COUNT = 64;
export const TEST_EXEC_ROOT =
  NAMESPACE === 0 ? "/var/lib/codejail/exec" : `/var/lib/codejail/exec-test-${NAMESPACE}`;

/**
 * The executor of the services a test run starts, passed on as CODEJAIL_EXECUTOR:
 * CODEJAIL_TEST_EXECUTOR, "prewarmed" or "fresh". `npm test` runs the integration tests once with
 * each. Unset means "fresh", whose runner.py processes the fault tests look for.
 */
export const TEST_EXECUTOR = process.env.CODEJAIL_TEST_EXECUTOR ?? "fresh";

/** Settings for a second service running beside the main one of a test file. */
export const SECOND_SERVICE_ENV = {
  CODEJAIL_SANDBOX_UID_BASE: String(TEST_UID_BASE + 500),
  CODEJAIL_EXEC_ROOT: `${TEST_EXEC_ROOT}-second`,
};

/** The image's unprivileged user for the web process (sandbox-image/provision.sh). */
export const WEB_USER_ID = 10001;

/**
 * Starts the service with extra environment variables and waits until /health/ answers.
 * `runAs` starts it as another user, such as the image's web user.
 */
export async function startServer(
  env: Record<string, string> = {},
  runAs: Readonly<{ uid: number; gid: number }> | undefined = undefined,
): Promise<TestServer> {
  const running = targetRunningService(env);
  if (running !== undefined) {
    return running;
  }

  const port = await findFreePort();
  await mkdir(env.CODEJAIL_EXEC_ROOT ?? TEST_EXEC_ROOT, { recursive: true, mode: 0o711 });
  const isolation = {
    CODEJAIL_SANDBOX_UID_BASE: String(TEST_UID_BASE),
    CODEJAIL_SANDBOX_UID_COUNT: String(TEST_UID_COUNT),
    CODEJAIL_EXEC_ROOT: TEST_EXEC_ROOT,
    CODEJAIL_EXECUTOR: TEST_EXECUTOR,
  };
  const child = spawn(
    FRAMEWORK_CLI,
    ["--target=codejail", `--source=${path.join(ROOT, "dist/function/index.js")}`],
    {
      env: { PATH: process.env.PATH, PORT: String(port), ...isolation, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      ...runAs,
    },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));

  const url = `http://127.0.0.1:${port}`;
  const server: TestServer = {
    url,
    process: child,
    logs: () => output,
    stop: () => stopProcess(child),
  };
  await waitForStartup(server, env.CODEJAIL_ENABLED === "false");
  return server;
}

/**
 * The already running service at TEST_SERVICE_URL (for example a container that
 * scripts/image/test-image.sh started), or undefined when that variable is unset. Nothing is
 * started and stop() does nothing. TEST_SERVICE_ENV, a JSON object, lists the variables the
 * service was started with. A test that requests a variable with another value fails here, naming
 * it, instead of running against the wrong configuration. `process` is an unspawned placeholder
 * and logs() is empty, so tests that signal the service or read its logs need a local one.
 */
function targetRunningService(env: Record<string, string>): TestServer | undefined {
  const url = process.env.TEST_SERVICE_URL;
  if (url === undefined || url === "") {
    return undefined;
  }

  const serviceEnv = JSON.parse(process.env.TEST_SERVICE_ENV ?? "{}") as Record<string, unknown>;
  for (const [name, value] of Object.entries(env)) {
    if (serviceEnv[name] !== value) {
      const actual = name in serviceEnv ? `with ${name}=${String(serviceEnv[name])}` : "without it";
      throw new Error(
        `This test requires a service started with ${name}=${value}, but TEST_SERVICE_ENV lists ` +
          `the service at ${url} as started ${actual}. Start one with ${name}=${value}.`,
      );
    }
  }
  return {
    url: url.replace(/\/+$/, ""),
    process: new ChildProcess(),
    logs: () => "",
    stop: async () => {},
  };
}

async function waitForStartup(server: TestServer, isDisabled: boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) {
      throw new Error(`service exited during start-up:\n${server.logs()}`);
    }
    // The safety check logs its verdict once; requests before that would wait for it anyway.
    if (/"Safety check (passed|failed)"/.test(server.logs()) || isDisabled) {
      const health = await fetch(`${server.url}/health/`).catch(() => undefined);
      if (health !== undefined) {
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`service did not start within ${STARTUP_TIMEOUT_MS} ms:\n${server.logs()}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Posts a payload (already JSON text) urlencoded, as edxapp does without a course library. */
export async function postUrlEncoded(url: string, payload: string): Promise<ServiceResponse> {
  const response = await fetch(`${url}/api/v0/code-exec`, {
    method: "POST",
    body: new URLSearchParams({ payload }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** Posts a payload as multipart with file parts, as edxapp does with a course library. */
export async function postMultipart(
  url: string,
  payload: string | undefined,
  files: Record<string, Buffer> = {},
): Promise<ServiceResponse> {
  const form = new FormData();
  if (payload !== undefined) {
    form.append("payload", payload);
  }
  for (const [name, data] of Object.entries(files)) {
    form.append(name, new Blob([data]), name);
  }
  const response = await fetch(`${url}/api/v0/code-exec`, { method: "POST", body: form });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** Runs code with globals (given as JSON text) and returns the response body text. */
export async function execText(
  url: string,
  code: string,
  globalsJson = "{}",
  extra = "",
): Promise<ServiceResponse> {
  const payload = `{"code": ${JSON.stringify(code)}, "globals_dict": ${globalsJson}${extra}}`;
  return postUrlEncoded(url, payload);
}

/** Runs code and parses the response with JSON.parse (only for tests whose values are plain). */
export async function exec(
  url: string,
  code: string,
  globals: Record<string, unknown> = {},
): Promise<{ status: number; globals: Record<string, unknown>; emsg?: string }> {
  const response = await execText(url, code, JSON.stringify(globals));
  const body = JSON.parse(response.text) as {
    globals_dict: Record<string, unknown>;
    emsg?: string;
  };
  return { status: response.status, globals: body.globals_dict, emsg: body.emsg };
}
