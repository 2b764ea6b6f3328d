/**
 * The soak's request mix: what edxapp sends (simple code, code that raises, a course library),
 * slow and timed-out code, hostile code (fork and memory bombs, output floods, a full disk,
 * kill(-1)), and bodies the service must reject. Each kind states the response it must get, so a
 * wrong response is counted even when its status looks right.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = path.join(ROOT, "test/fixtures");
const URLENCODED = "application/x-www-form-urlencoded";
const MIB = 1024 * 1024;

const urlencoded = (payload) => ({
  contentType: URLENCODED,
  body: Buffer.from(new URLSearchParams({ payload }).toString()),
});
const code = (source, globals = {}) =>
  urlencoded(JSON.stringify({ code: source, globals_dict: globals }));

const isEmsg = (pattern) => (status, text) =>
  status === 200 && /^\{"globals_dict":/.test(text) && pattern.test(emsgOf(text));

function emsgOf(text) {
  try {
    return JSON.parse(text).emsg ?? "";
  } catch {
    return "";
  }
}

function libraryRequest() {
  const payload = readFileSync(path.join(FIXTURES, "answer-with-library.payload.json"), "utf8");
  const library = readFileSync(path.join(FIXTURES, "python_lib.zip"));
  const boundary = "soakboundary7MA4YWxkTrZu0gW";
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n`),
    Buffer.from(payload),
    Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="python_lib.zip"; `),
    Buffer.from(`filename="python_lib.zip"\r\n\r\n`),
    library,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body };
}

/** Builds the request kinds once: name, relative weight, request, and the response check. */
export function buildWorkload() {
  const oversizedPayload = code(`x = '${"a".repeat(6 * MIB)}'`);
  return [
    {
      name: "simple",
      weight: 30,
      request: () => {
        const x = Math.floor(Math.random() * 1e6);
        return { ...code("x = x + 1", { x }), expected: `{"globals_dict":{"x":${x + 1}}}` };
      },
      check: (status, text, request) => status === 200 && text === request.expected,
    },
    {
      name: "library",
      weight: 6,
      request: libraryRequest,
      check: (status, text) => status === 200 && text.includes('"correct":["correct"]'),
    },
    {
      name: "raises",
      weight: 10,
      request: () => code("1/0", { a: 1 }),
      check: isEmsg(/ZeroDivisionError: division by zero\\n' with status code: 1$/),
    },
    {
      name: "slow",
      weight: 8,
      request: () => code(`import time\ntime.sleep(${(0.3 + Math.random()).toFixed(2)})\nok = 1`),
      check: (status, text) => status === 200 && text === '{"globals_dict":{"ok":1}}',
    },
    {
      name: "timeout",
      weight: 2,
      request: () =>
        code("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(30)"),
      check: isEmsg(
        /^Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9$/,
      ),
    },
    {
      name: "fork-bomb",
      weight: 4,
      request: () => code("import os\nwhile True:\n    os.fork()"),
      check: isEmsg(/BlockingIOError|status code: -9/),
    },
    {
      name: "memory-bomb",
      weight: 4,
      request: () =>
        code("blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))"),
      check: isEmsg(/MemoryError|status code: -9/),
    },
    {
      name: "output-flood",
      weight: 4,
      request: () =>
        code(`import os, sys\nsys.stderr.write('e' * ${4 * MIB})\nos.write(1, b'o' * ${10 * MIB})`),
      check: isEmsg(/exceeded the limit of \d+ bytes\)$/),
    },
    {
      name: "disk-fill",
      weight: 3,
      request: () =>
        code("i = 0\nwhile True:\n    open('tmp/f%d' % i, 'wb').write(b'x' * 1048576)\n    i += 1"),
      check: isEmsg(/No space left on device|File too large|Disk quota exceeded/),
    },
    {
      name: "kill-all",
      weight: 4,
      // kill(-1) reaches every process of the execution's uid except the caller, so the forked
      // sleeper dies and the code carries on.
      request: () =>
        code("import os, time\nif os.fork() == 0:\n    time.sleep(30)\nos.kill(-1, 9)\nok = 1"),
      check: (status, text) => status === 200 && text === '{"globals_dict":{"ok":1}}',
    },
    {
      name: "oversized",
      weight: 3,
      request: () => oversizedPayload,
      check: (status, text) => status === 413 && text.startsWith('{"error":"The \'payload\' field'),
    },
    {
      name: "schema",
      weight: 5,
      request: () => urlencoded('{"globals_dict": {}}'),
      check: (status, text) =>
        status === 400 &&
        text ===
          `{"error":"Payload JSON did not match schema at path $: 'code' is a required property"}`,
    },
    {
      name: "hostile-body",
      weight: 6,
      request: () => {
        const bodies = [
          { contentType: "multipart/form-data; boundary=x", body: Buffer.from([0xff, 0x2d, 0, 1]) },
          { contentType: "multipart/form-data", body: Buffer.from("--x\r\n\r\n") },
          { contentType: URLENCODED, body: Buffer.from("payload=%zz%ff{") },
          { contentType: "text/plain", body: Buffer.from("payload=x") },
        ];
        return bodies[Math.floor(Math.random() * bodies.length)];
      },
      check: (status, text) => [400, 415].includes(status) && text.startsWith('{"error":'),
    },
  ];
}

/**
 * Returns a picker that deals kinds from a shuffled deck holding each kind `weight` times, so
 * every kind is sent in proportion to its weight and at least once per deck of requests.
 */
export function createPicker(kinds) {
  let deck = [];
  return () => {
    if (deck.length === 0) {
      deck = kinds.flatMap((kind) => Array.from({ length: kind.weight }, () => kind));
      for (let i = deck.length - 1; i > 0; i -= 1) {
        const j = Math.floor(Math.random() * (i + 1));
        [deck[i], deck[j]] = [deck[j], deck[i]];
      }
    }
    return deck.pop();
  };
}
