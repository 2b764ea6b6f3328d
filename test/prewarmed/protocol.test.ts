/**
 * The template's protocol, driven directly against a real template (sandbox-image/runner/
 * template.py) without the service: a forked child waits under the template's uid until its
 * execution's fields arrive, checks them itself, and exits quietly when its main connection
 * ends first. The child switches ids with the template's capabilities, so the checks of the uid
 * and gid it is sent are what keeps it from becoming root or another service's uid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { createInterface } from "node:readline";
import { TEST_UID_BASE } from "../helpers/server.js";
import { delay, readStatus } from "./support.js";

const RUNNER_DIR = "/opt/codejail/runner";
const SANDBOX_GID = 2_002_717_000;
/** A pool of this file's own, apart from the services' pools of the other test files. */
const POOL_BASE = TEST_UID_BASE + 900;
const TEMPLATE_UID = POOL_BASE - 1;
const SOCKET_PATH = `/run/codejail/templates-${TEMPLATE_UID}/${process.pid}-1.sock`;
const CONFIG = JSON.stringify({
  limits: { cpu_seconds: 2, vmem_bytes: 0, fsize_bytes: 0, nproc: 4, nofile: 64 },
  read_paths: [],
  confine: true,
});

type Event = Record<string, unknown>;

/** Polls `read` until it returns a value, for at most `timeoutMs`. */
async function pollFor<T>(read: () => T | undefined, timeoutMs = 5000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (value === undefined && Date.now() < deadline) {
    await delay(20);
    value = read();
  }
  return value;
}
let template: ChildProcess;
const events: Event[] = [];

beforeAll(async () => {
  const config = {
    socket_path: SOCKET_PATH,
    uid: TEMPLATE_UID,
    gid: SANDBOX_GID,
    pool_uid_base: POOL_BASE,
    pool_uid_count: 4,
    preload: [],
  };
  template = spawn(
    "/usr/bin/python3",
    ["-I", "-B", `${RUNNER_DIR}/template.py`, JSON.stringify(config)],
    {
      env: { LANG: "C.UTF-8", PATH: "/usr/bin:/bin" },
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  createInterface({ input: template.stdout! }).on("line", (line) =>
    events.push(JSON.parse(line) as Event),
  );
  expect(await pollFor(() => events.find((event) => event.ready === true), 20_000)).toBeDefined();
}, 30_000);

afterAll(async () => {
  template.stdin!.end();
  await new Promise((resolve) => template.once("exit", resolve));
});

type Child = {
  pid: number;
  execId: string;
  main: net.Socket;
  result: Promise<string>;
  status: () => Promise<number | undefined>;
};

let sequence = 0;

/** Opens a child's three connections and waits until the template reports its fork. */
async function forkChild(): Promise<Child> {
  sequence += 1;
  const execId = `protocol-${sequence}`;
  const sockets = await Promise.all(
    ["main", "stderr", "result"].map(
      (role) =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.createConnection(SOCKET_PATH, () => {
            socket.write(`${JSON.stringify({ exec_id: execId, role })}\n`);
            resolve(socket);
          });
          socket.once("error", reject);
        }),
    ),
  );
  const [main, stderr, result] = sockets as [net.Socket, net.Socket, net.Socket];
  stderr.resume();
  const resultText = new Promise<string>((resolve) => {
    let text = "";
    result.on("data", (chunk: Buffer) => (text += chunk.toString()));
    result.once("close", () => resolve(text));
  });
  const findEvent = (key: string) =>
    events.find((event) => event.exec_id === execId && key in event);
  const pid = await pollFor(() => findEvent("pid")?.pid as number | undefined);
  const status = () => pollFor(() => findEvent("status")?.status as number | undefined);
  return { pid: pid!, execId, main, result: resultText, status };
}

function toMessage(fields: object): Buffer {
  const json = Buffer.from(JSON.stringify(fields));
  return Buffer.concat([Buffer.from(String(json.length).padStart(8, "0")), json]);
}

describe("template protocol", () => {
  it("keeps a forked child under the template's uid until its fields arrive", async () => {
    const child = await forkChild();
    const status = await readStatus(child.pid);

    expect(status?.Uid?.split(/\s+/)[0]).toBe(String(TEMPLATE_UID));
    child.main.destroy();
    expect(await child.status()).toBe(0);
    expect(await child.result).toBe("");
  });

  it.each([
    ["the root uid", { uid: 0, gid: SANDBOX_GID }, "uid 0 is not in the sandbox pool"],
    [
      "a uid outside the pool",
      { uid: POOL_BASE + 4, gid: SANDBOX_GID },
      "is not in the sandbox pool",
    ],
    [
      "the template's own uid",
      { uid: TEMPLATE_UID, gid: SANDBOX_GID },
      "is not in the sandbox pool",
    ],
    ["the root gid", { uid: POOL_BASE, gid: 0 }, "gid 0 is not the sandbox gid"],
  ])("refuses a child %s", async (_name, ids, message) => {
    const child = await forkChild();
    child.main.end(toMessage({ ...ids, directory: "/tmp", environment: {}, config: CONFIG }));

    expect(await child.status()).toBe(70);
    expect(await child.result).toContain(message);
  });

  it("refuses a child fields longer than the limit", async () => {
    const child = await forkChild();
    child.main.end(Buffer.from("99999999"));

    expect(await child.status()).toBe(70);
    expect(await child.result).toContain("execution fields of 99999999 bytes");
  });
});
