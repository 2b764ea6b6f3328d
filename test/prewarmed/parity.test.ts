/**
 * The prewarmed executor responds exactly as the fresh one: the same code sent to a service of
 * each kind gets byte-identical responses. The probes read what a forked child inherits from its
 * template (environment, paths, streams, limits) and how the code's end becomes a status and an
 * emsg. Values that name the execution directory are rewritten as <dir> by the code itself.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  execText,
  postMultipart,
  SECOND_SERVICE_ENV,
  startServer,
  type TestServer,
} from "../helpers/server.js";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");
const FAST_CONTEXT = "course-v1:Fast+1+1";
const SETTINGS = {
  CODEJAIL_LIMIT_OVERRIDES: JSON.stringify({ [FAST_CONTEXT]: { REALTIME: 0.5 } }),
};
let prewarmed: TestServer;
let fresh: TestServer;

beforeAll(async () => {
  [prewarmed, fresh] = await Promise.all([
    startServer({ ...SETTINGS, CODEJAIL_EXECUTOR: "prewarmed" }),
    startServer({ ...SETTINGS, ...SECOND_SERVICE_ENV, CODEJAIL_EXECUTOR: "fresh" }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([prewarmed?.stop(), fresh?.stop()]);
});

const PROBES: ReadonlyArray<readonly [string, string]> = [
  [
    "environment in order",
    "import os\nenv = [(k, v.replace(os.getcwd(), '<dir>')) for k, v in os.environ.items()]",
  ],
  [
    "interpreter settings",
    [
      "import sys",
      "path = sys.path",
      "argv = sys.argv",
      "flags = list(sys.flags)",
      "encodings = [sys.getdefaultencoding(), sys.getfilesystemencoding(),",
      "             sys.getfilesystemencodeerrors()]",
      "limits = [sys.getrecursionlimit(), sys.get_int_max_str_digits()]",
    ].join("\n"),
  ],
  [
    "standard streams",
    [
      "import sys",
      "streams = [(s.name, s.mode, s.encoding, s.errors, s.line_buffering, s.write_through)",
      "           for s in (sys.stdin, sys.__stdout__, sys.stderr)]",
    ].join("\n"),
  ],
  [
    "identity and umask",
    [
      "import os",
      "single_uid = len(set(os.getresuid())) == 1",
      "single_gid = len(set(os.getresgid())) == 1",
      "groups = os.getgroups()",
      "umask = os.umask(0o22)",
      "cwd = os.getcwd() == os.environ['HOME'][:-4]",
    ].join("\n"),
  ],
  [
    "resource limits except the address space",
    [
      "import resource",
      "names = ['CPU', 'FSIZE', 'NPROC', 'NOFILE', 'CORE', 'STACK', 'DATA', 'MEMLOCK']",
      "limits = {n: resource.getrlimit(getattr(resource, 'RLIMIT_' + n)) for n in names}",
    ].join("\n"),
  ],
  [
    "standard descriptors",
    [
      "import fcntl",
      "def is_open(fd):",
      "    try:",
      "        return fcntl.fcntl(fd, fcntl.F_GETFD) >= 0",
      "    except OSError:",
      "        return False",
      "open_fds = [fd for fd in range(4) if is_open(fd)]",
    ].join("\n"),
  ],
  [
    "signal dispositions",
    "import signal\nhandlers = {s.name: str(signal.getsignal(s)) for s in signal.Signals " +
      "if s not in (signal.SIGKILL, signal.SIGSTOP)}",
  ],
  ["a raised exception", "x = 1\n1/0"],
  ["a syntax error", "x = ("],
  ["deep recursion", "def f():\n    return f()\nf()"],
  ["sys.exit with a number", "import sys\nsys.stderr.write('leaving')\nsys.exit(3)"],
  ["SystemExit with a message", "raise SystemExit('bye')"],
  ["SystemExit with None", "x = 2\nraise SystemExit(None)"],
  ["SystemExit with True", "raise SystemExit(True)"],
  ["SystemExit with a huge number", "raise SystemExit(2 ** 70)"],
  ["SystemExit with a negative number", "raise SystemExit(-2)"],
  ["os._exit", "import os\nos._exit(5)"],
  [
    "output on every channel",
    [
      "import ctypes, os, sys",
      "os.write(1, b'raw ')",
      "print('discarded')",
      "sys.__stdout__.write('buffered ')",
      "ctypes.CDLL(None).printf(b'from C')",
      "sys.stderr.write('err\\n')",
      "raise ValueError('x')",
    ].join("\n"),
  ],
  [
    "atexit callbacks after the traceback",
    [
      "import atexit, sys",
      "atexit.register(lambda: sys.stderr.write('from atexit\\n'))",
      "class Failing:",
      "    def __call__(self):",
      "        1 / 0",
      "    def __repr__(self):",
      "        return 'Failing()'",
      "atexit.register(Failing())",
      "raise ValueError('x')",
    ].join("\n"),
  ],
  [
    "a thread still running at the end",
    [
      "import sys, threading, time",
      "def late():",
      "    time.sleep(0.2)",
      "    sys.stderr.write('thread done\\n')",
      "threading.Thread(target=late).start()",
      "done = True",
    ].join("\n"),
  ],
  [
    "a failing flush of sys.stdout",
    [
      "import sys",
      "class Failing:",
      "    def write(self, text):",
      "        pass",
      "    def flush(self):",
      "        raise OSError('no')",
      "    def __repr__(self):",
      "        return 'Failing()'",
      "sys.stdout = Failing()",
    ].join("\n"),
  ],
  ["a warning", "import warnings\nwarnings.warn('careful')\nraise ValueError('x')"],
  ["output past the limit", "import sys\nsys.stderr.write('e' * (64 * 1024 * 1024))"],
  ["memory past the limit", "x = bytearray(1024 * 1024 * 1024)"],
  ["a timeout", "import time\ntime.sleep(5)"],
  ["stdin already consumed", "import sys\nrest = sys.stdin.read()"],
  ["random values are drawn", "import random\nvalue = isinstance(random.random(), float)"],
];

describe("prewarmed and fresh executors", () => {
  it.each(PROBES)("answer %s identically", async (_name, code) => {
    const extra = `, "limit_overrides_context": "${FAST_CONTEXT}"`;
    const [fromPrewarmed, fromFresh] = await Promise.all([
      execText(prewarmed.url, code, '{"x": 0}', extra),
      execText(fresh.url, code, '{"x": 0}', extra),
    ]);

    expect(fromPrewarmed.status).toBe(fromFresh.status);
    expect(fromPrewarmed.text).toBe(fromFresh.text);
  });

  it("answer matplotlib without a chosen backend identically", async () => {
    const code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('tmp/a.png')";
    const [fromPrewarmed, fromFresh] = await Promise.all(
      [prewarmed, fresh].map((server) => execText(server.url, `${code}\nsaved = True`)),
    );

    expect(fromPrewarmed.text).toBe('{"globals_dict":{"saved":true}}');
    expect(fromPrewarmed.text).toBe(fromFresh.text);
  });

  it("answer the edxapp example with a course library identically", async () => {
    const payload = await readFile(path.join(FIXTURES, "answer-with-library.payload.json"), "utf8");
    const library = await readFile(path.join(FIXTURES, "python_lib.zip"));
    const [fromPrewarmed, fromFresh] = await Promise.all(
      [prewarmed, fresh].map((server) =>
        postMultipart(server.url, payload, { "python_lib.zip": library }),
      ),
    );

    expect(fromPrewarmed.status).toBe(200);
    expect(fromPrewarmed.text).toBe(fromFresh.text);
  });
});
