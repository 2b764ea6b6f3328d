/**
 * Resource limits and isolation between executions: file size, memory, and concurrent runs that
 * must not see or disturb each other.
 */
import { exec, postUrlEncoded, TEST_EXEC_ROOT, type TestServer } from "../helpers/server.js";
import { expectError, findSandboxProcesses, startSandboxServer } from "../helpers/sandbox.js";

let server: TestServer;

beforeAll(async () => {
  server = await startSandboxServer({
    CODEJAIL_LIMIT_OVERRIDES: JSON.stringify({
      "course-v1:Big+1+1": { FSIZE: 20971520 },
      "course-v1:Cpu+1+1": { CPU: 1, REALTIME: 15 },
    }),
  });
});

afterAll(async () => {
  await server.stop();
});

describe("resources", () => {
  it("deny writing a file past the size limit", async () => {
    const code = "f = open('tmp/big', 'wb')\nfor i in range(20):\n    f.write(b'x' * 1048576)\n";
    const emsg = await expectError(server.url, code);

    expect(emsg).toContain("OSError: [Errno 27] File too large");
  });

  it("allow a larger file under a limit override context", async () => {
    const payload = JSON.stringify({
      code: "f = open('tmp/big', 'wb')\nf.write(b'x' * 15728640)\nf.close()\nok = True",
      globals_dict: {},
      limit_overrides_context: "course-v1:Big+1+1",
    });
    const response = await fetch(`${server.url}/api/v0/code-exec`, {
      method: "POST",
      body: new URLSearchParams({ payload }),
    });

    expect(JSON.parse(await response.text()).globals_dict.ok).toBe(true);
  });

  it("deny allocating past the memory limit", async () => {
    const emsg = await expectError(server.url, "x = bytearray(1024 * 1024 * 1024)");

    expect(emsg).toContain("MemoryError");
  });

  it("deny using more CPU time than the limit", async () => {
    // The wall-clock limit of this context is 15 s, so a kill well before it is the CPU limit's.
    const started = Date.now();
    const code =
      "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass";
    const payload = JSON.stringify({
      code,
      globals_dict: {},
      limit_overrides_context: "course-v1:Cpu+1+1",
    });
    const response = await postUrlEncoded(server.url, payload);

    expect(JSON.parse(response.text).emsg).toMatch(/status code: -9$/);
    expect(Date.now() - started).toBeLessThan(10000);
  });

  it("deny seeing other executions", async () => {
    const slow = exec(server.url, "import time\nopen('marker-a', 'w').write('a')\ntime.sleep(1)");
    const emsg = await expectError(
      server.url,
      `import os, time\ntime.sleep(0.3)\nos.listdir('${TEST_EXEC_ROOT}')`,
    );
    await slow;

    expect(emsg).toContain("PermissionError: [Errno 13] Permission denied");
  });

  it("deny a fork bomb disturbing concurrent executions", async () => {
    const bomb = [
      "import os, time",
      "try:",
      "    for i in range(1000):",
      "        if os.fork() == 0:",
      "            time.sleep(2)",
      "            os._exit(0)",
      "except OSError:",
      "    pass",
      "time.sleep(1)",
    ].join("\n");
    const worker = (i: number) =>
      exec(
        server.url,
        `import os, time\nopen('mine', 'w').write('${i}')\ntime.sleep(0.5)\n` +
          "names = sorted(os.listdir('.'))\nvalue = open('mine').read()\npid = os.fork()\n" +
          "if pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)\nforked = True",
      );
    const results = await Promise.all([exec(server.url, bomb), worker(1), worker(2), worker(3)]);

    for (const [index, result] of results.slice(1).entries()) {
      expect(result.emsg).toBeUndefined();
      expect(result.globals.value).toBe(String(index + 1));
      expect(result.globals.names).toEqual(["jailed_code", "mine", "tmp"]);
      expect(result.globals.forked).toBe(true);
    }
    expect(await findSandboxProcesses()).toEqual([]);
  });
});
