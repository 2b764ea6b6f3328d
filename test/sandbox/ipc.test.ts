/**
 * Kernel objects that would outlive an execution: System V shared memory, semaphores and message
 * queues, POSIX message queues, and a process adopted by the runner's parent (clone with
 * CLONE_PARENT), which the parent would never reap. Each could carry data or hold the uid or the slot's
 * memory past the end of the execution. Without confinement each call below succeeds, and the
 * code removes the object again so that the check run leaves none behind.
 */
import { exec, type TestServer } from "../helpers/server.js";
import { expectError, startSandboxServer } from "../helpers/sandbox.js";

const OPERATION_NOT_PERMITTED = "PermissionError: [Errno 1]";
let server: TestServer;

beforeAll(async () => {
  server = await startSandboxServer();
});

afterAll(async () => {
  await server.stop();
});

/** Code that calls libc's `create` and raises OSError with errno when it returns -1. */
function callLibc(create: string, remove: string): string {
  return [
    "import ctypes",
    "libc = ctypes.CDLL(None, use_errno=True)",
    `created = ${create}`,
    "if created == -1:",
    "    raise OSError(ctypes.get_errno(), 'creating the object failed')",
    remove,
  ].join("\n");
}

const IPC_PRIVATE = 0;
const IPC_CREAT = 0o1000;
const IPC_RMID = 0;

describe("ipc", () => {
  it.each([
    [
      "System V shared memory",
      `libc.shmget(${IPC_PRIVATE}, 4096, ${IPC_CREAT} | 0o600)`,
      `libc.shmctl(created, ${IPC_RMID}, None)`,
    ],
    [
      "System V semaphores",
      `libc.semget(${IPC_PRIVATE}, 1, ${IPC_CREAT} | 0o600)`,
      `libc.semctl(created, 0, ${IPC_RMID})`,
    ],
    [
      "System V message queues",
      `libc.msgget(${IPC_PRIVATE}, ${IPC_CREAT} | 0o600)`,
      `libc.msgctl(created, ${IPC_RMID}, None)`,
    ],
    [
      "POSIX message queues",
      "libc.mq_open(b'/codejail-test', 0o100 | 0o2, 0o600, None)",
      "libc.mq_unlink(b'/codejail-test')",
    ],
  ])("deny creating %s", async (_name, create, remove) => {
    const emsg = await expectError(server.url, callLibc(create, remove));

    expect(emsg).toContain(OPERATION_NOT_PERMITTED);
  });

  it("deny a process adopted by the runner's parent", async () => {
    const code = [
      "import ctypes, os",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "clone = {'x86_64': 56, 'aarch64': 220}[os.uname().machine]",
      "child = libc.syscall(clone, 0x00008000 | 17, 0, 0, 0, 0)",
      "if child == 0:",
      "    os._exit(0)",
      "if child == -1:",
      "    raise OSError(ctypes.get_errno(), 'clone with CLONE_PARENT failed')",
    ].join("\n");
    const emsg = await expectError(server.url, code);

    expect(emsg).toContain(OPERATION_NOT_PERMITTED);
  });

  it("support a process forked with plain fork", async () => {
    const code = "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)";
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
  });
});
