/**
 * A forked child starts from the template's state, never from another execution's: random
 * generators, module attributes, atexit callbacks, the environment and files do not carry over.
 * The child has no capability, and the template only CAP_SETUID and CAP_SETGID.
 */
import {
  exec,
  startServer,
  TEST_UID_BASE,
  TEST_UID_COUNT,
  type TestServer,
} from "../helpers/server.js";
import { readStatus, REPORT_TEMPLATE, TEMPLATE_UID } from "./support.js";

const CAP_SETUID_AND_SETGID = "00000000000000c0";
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ CODEJAIL_EXECUTOR: "prewarmed" });
});

afterAll(async () => {
  await server.stop();
});

/** Runs the same code twice and returns both results' globals. */
async function runTwice(code: string): Promise<Array<Record<string, unknown>>> {
  const results = [await exec(server.url, code), await exec(server.url, code)];
  for (const result of results) {
    expect(result.emsg).toBeUndefined();
  }
  return results.map((result) => result.globals);
}

describe("state between executions", () => {
  it.each([
    ["random", "import random\nvalue = random.random()"],
    ["numpy.random", "import numpy\nvalue = float(numpy.random.random())"],
    ["random2", "import random2\nvalue = random2.random()"],
    ["os.urandom", "import os\nvalue = os.urandom(16).hex()"],
  ])("differs in the %s sequence", async (_name, code) => {
    const [first, second] = await runTwice(code);

    expect(first!.value).not.toEqual(second!.value);
  });

  it("does not keep module attributes, modules or sys.path entries", async () => {
    const change = [
      "import json, numpy, sys",
      "json.leaked = numpy.leaked = True",
      "sys.leaked = True",
      "sys.path.append('/leaked')",
      "import tabnanny",
    ].join("\n");
    const read = [
      "import json, numpy, sys",
      "seen = [hasattr(json, 'leaked'), hasattr(numpy, 'leaked'), hasattr(sys, 'leaked')]",
      "path_seen = '/leaked' in sys.path",
      "module_seen = 'tabnanny' in sys.modules",
    ].join("\n");
    await exec(server.url, change);
    const result = await exec(server.url, read);

    expect(result.globals.seen).toEqual([false, false, false]);
    expect(result.globals.path_seen).toBe(false);
    expect(result.globals.module_seen).toBe(false);
  });

  it("does not keep atexit callbacks", async () => {
    const count = "import atexit\ncount = atexit._ncallbacks()";
    const before = await exec(server.url, count);
    await exec(server.url, "import atexit\nfor i in range(3):\n    atexit.register(print, i)");
    const after = await exec(server.url, count);

    expect(after.globals.count).toBe(before.globals.count);
  });

  it("does not keep environment variables", async () => {
    await exec(server.url, "import os\nos.environ['LEAKED'] = '1'\nos.putenv('LEAKED2', '1')");
    const result = await exec(server.url, "import os\nnames = sorted(os.environ)");

    expect(result.globals.names).toEqual([
      "HOME",
      "LANG",
      "OPENBLAS_NUM_THREADS",
      "PATH",
      "TMPDIR",
    ]);
  });

  it("does not keep files", async () => {
    await exec(server.url, "open('note.txt', 'w').write('a')\nopen('tmp/s', 'w').write('b')");
    const result = await exec(
      server.url,
      "import os\nnames = sorted(os.listdir('.'))\nscratch = os.listdir('tmp')",
    );

    expect(result.globals.names).toEqual(["jailed_code", "tmp"]);
    expect(result.globals.scratch).toEqual([]);
  });
});

describe("forked child", () => {
  it("holds no capability", async () => {
    // /proc is outside the Landlock rules, so the code reads its sets with capget(2) and
    // prctl(2) instead of /proc/self/status.
    const code = [
      "import ctypes",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "class Header(ctypes.Structure):",
      "    _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]",
      "class Data(ctypes.Structure):",
      "    _fields_ = [('effective', ctypes.c_uint32), ('permitted', ctypes.c_uint32),",
      "                ('inheritable', ctypes.c_uint32)]",
      "header = Header(0x20080522, 0)",
      "data = (Data * 2)()",
      "result = libc.capget(ctypes.byref(header), data)",
      "sets = [[d.effective, d.permitted, d.inheritable] for d in data]",
      "ambient = [c for c in range(64) if libc.prctl(47, 1, c, 0, 0) == 1]",
      "bounding = [c for c in range(64) if libc.prctl(23, c, 0, 0, 0) == 1]",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.result).toBe(0);
    expect(result.globals.sets).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(result.globals.ambient).toEqual([]);
    expect(result.globals.bounding).toEqual([6, 7]);
  });

  it("runs as a pool uid without groups and cannot change it", async () => {
    const code = [
      "import os",
      "uids = list(os.getresuid())",
      "gids = list(os.getresgid())",
      "groups = os.getgroups()",
      "denied = []",
      "for change in (lambda: os.setuid(0), lambda: os.setresuid(0, 0, 0),",
      "               lambda: os.setgid(0), lambda: os.setgroups([0])):",
      "    try:",
      "        change()",
      "    except PermissionError:",
      "        denied.append(True)",
    ].join("\n");
    const result = await exec(server.url, code);
    const uids = result.globals.uids as number[];

    expect(new Set(uids).size).toBe(1);
    expect(uids[0]).toBeGreaterThanOrEqual(TEST_UID_BASE);
    expect(uids[0]).toBeLessThan(TEST_UID_BASE + TEST_UID_COUNT);
    expect(result.globals.groups).toEqual([]);
    expect(result.globals.denied).toEqual([true, true, true, true]);
  });

  it("has only its four channels open", async () => {
    const code = [
      "import fcntl",
      "def is_open(fd):",
      "    try:",
      "        return fcntl.fcntl(fd, fcntl.F_GETFD) >= 0",
      "    except OSError:",
      "        return False",
      "open_fds = [fd for fd in range(1024) if is_open(fd)]",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.globals.open_fds).toEqual([0, 1, 2, 3]);
  });
});

describe("template", () => {
  it("keeps only CAP_SETUID and CAP_SETGID under its own uid", async () => {
    const result = await exec(server.url, REPORT_TEMPLATE);
    const status = await readStatus(result.globals.template as number);

    expect(status).toBeDefined();
    expect(status!.Uid).toBe(Array(4).fill(TEMPLATE_UID).join("\t"));
    expect(status!.Groups).toBe("");
    expect(status!.CapEff).toBe(CAP_SETUID_AND_SETGID);
    expect(status!.CapPrm).toBe(CAP_SETUID_AND_SETGID);
    expect(status!.CapBnd).toBe(CAP_SETUID_AND_SETGID);
    expect(status!.CapInh).toBe("0000000000000000");
    expect(status!.CapAmb).toBe("0000000000000000");
    expect(status!.NoNewPrivs).toBe("1");
  });
});
