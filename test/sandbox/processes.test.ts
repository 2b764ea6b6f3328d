/**
 * Process confinement: no program can be started, the process count is capped per execution,
 * process-control calls are refused, and nothing survives the end of an execution.
 */
import { exec, execText, type TestServer } from "../helpers/server.js";
import { expectError, findSandboxProcesses, startSandboxServer } from "../helpers/sandbox.js";

const PERMISSION_DENIED = "PermissionError: [Errno 13] Permission denied";
const FORK_REFUSED = "BlockingIOError: [Errno 11] Resource temporarily unavailable";
let server: TestServer;

beforeAll(async () => {
  server = await startSandboxServer();
});

afterAll(async () => {
  await server.stop();
});

describe("processes", () => {
  it.each([
    ["/usr/bin/true", "subprocess.run(['/usr/bin/true'])"],
    ["ls", "subprocess.run(['ls'])"],
    ["sys.executable", "subprocess.run([sys.executable, '-c', 'pass'])"],
    ["python3", "subprocess.run(['python3', '-c', 'pass'])"],
    ["ps", "subprocess.run(['ps'])"],
    ["os.execv", "os.execv('/usr/bin/true', ['true'])"],
  ])("deny starting %s", async (_name, call) => {
    const emsg = await expectError(server.url, `import os, subprocess, sys\n${call}`);

    expect(emsg.includes(PERMISSION_DENIED) || emsg.includes(FORK_REFUSED)).toBe(true);
  });

  it("deny forking a thousand processes", async () => {
    const code = [
      "import os, time",
      "for i in range(1000):",
      "    if os.fork() == 0:",
      "        time.sleep(5)",
      "        os._exit(0)",
    ].join("\n");
    const emsg = await expectError(server.url, code);

    expect(emsg).toContain(FORK_REFUSED);
  });

  it("deny leaving a process behind", async () => {
    const code = [
      "import os, time",
      "if os.fork() == 0:",
      "    time.sleep(60)",
      "    os._exit(0)",
      "started = True",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.globals.started).toBe(true);
    expect(await findSandboxProcesses()).toEqual([]);
  });

  it("support executions right after one whose process outlived it", async () => {
    // The pool hands the same uid out again at once, so the kill of each leftover must be over
    // before the next execution's runner starts under that uid.
    // Bounded even without confinement, which the deny check runs these tests without, and the
    // leftovers close their channels so that an unconfined execution ends without a kill.
    const leave = (count: number) =>
      `import os, time\nfor _ in range(${count}):\n    if os.fork() == 0:\n` +
      "        os.closerange(0, 64)\n        time.sleep(5)\n        os._exit(0)";
    const leavers = [leave(1), leave(10)];
    for (let round = 0; round < 20; round += 1) {
      await execText(server.url, leavers[round % leavers.length]!);
      const result = await exec(server.url, "x = 1");

      expect(result.globals.x).toBe(1);
    }
  });

  it("deny setsid", async () => {
    const emsg = await expectError(server.url, "import os; os.setsid()");

    expect(emsg).toContain("PermissionError: [Errno 1] Operation not permitted");
  });

  it.each([
    ["ptrace", "libc.ptrace(0, 0, 0, 0)"],
    ["unshare", "libc.unshare(0x10000000)"],
    ["bpf", "libc.syscall(321, 0, 0, 0)"],
    ["io_uring_setup", "libc.syscall(425, 1, 0)"],
    ["userfaultfd", "libc.syscall(323, 1)"],
    ["keyctl", "libc.syscall(250, 0, 0, 0, 0, 0)"],
  ])("deny the %s system call", async (_name, call) => {
    const code = [
      "import ctypes, os",
      "libc = ctypes.CDLL(None, use_errno=True)",
      `result = ${call}`,
      "error = ctypes.get_errno()",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.result).toBe(-1);
    expect(result.globals.error).toBe(1);
  });

  it("support the service surviving kill(-1) from the code", async () => {
    const code =
      "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass";
    await exec(server.url, code);
    const next = await exec(server.url, "x = 1");

    expect(next.globals.x).toBe(1);
  });

  it("deny running past the wall-clock limit with SIGTERM ignored", async () => {
    const started = Date.now();
    const code =
      "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(30)";
    const response = await execText(server.url, code);

    expect(JSON.parse(response.text).emsg).toBe(
      "Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9",
    );
    expect(Date.now() - started).toBeLessThan(15000);
    expect(await findSandboxProcesses()).toEqual([]);
  });

  it("deny a grandchild in its own session outliving the deadline", async () => {
    const code = [
      "import os, time",
      "if os.fork() == 0:",
      "    try:",
      "        os.setsid()",
      "    except OSError:",
      "        pass",
      "    if os.fork() == 0:",
      "        time.sleep(60)",
      "    os._exit(0)",
      "time.sleep(30)",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toMatch(/status code: -9$/);
    expect(await findSandboxProcesses()).toEqual([]);
  });

  it("allow threads within the process limit", async () => {
    const code = [
      "import threading",
      "results = []",
      "threads = [threading.Thread(target=results.append, args=(i,)) for i in range(4)]",
      "[t.start() for t in threads]",
      "[t.join() for t in threads]",
      "count = len(results)",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.globals.count).toBe(4);
  });
});
