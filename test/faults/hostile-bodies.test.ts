/**
 * Malformed and hostile request bodies never crash the service. Bodies that reach the handler get
 * a 4xx JSON response or, when the payload is valid, 200. Bodies that the Functions Framework's own
 * parsers reject before the handler runs get its 4xx page, which must not show a stack trace.
 * The service runs with NODE_ENV=production, as the image sets it.
 */
import net from "node:net";
import { gzipSync } from "node:zlib";
import { startServer, type TestServer } from "../helpers/server.js";
import { readRssKib, waitForNoLeftovers } from "./support.js";

const URLENCODED = "application/x-www-form-urlencoded";
const MULTIPART = "multipart/form-data; boundary=xyz";
const SIMPLE_PAYLOAD = '{"code": "x = 1", "globals_dict": {}}';
/** Growth of the service's RSS allowed for one compressed body: about one maximum body. */
const MAX_RSS_GROWTH_KIB = 100 * 1024;

type Row = [name: string, body: Buffer, headers: Record<string, string>];

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ NODE_ENV: "production" });
});

afterAll(async () => {
  await server.stop();
});

function urlencoded(payload: string): Buffer {
  return Buffer.from(new URLSearchParams({ payload }).toString());
}

function multipartPart(headerLines: string, value: string): Buffer {
  return Buffer.from(`--xyz\r\n${headerLines}\r\n\r\n${value}\r\n--xyz--\r\n`);
}

async function post(body: Buffer, headers: Record<string, string>) {
  const response = await fetch(`${server.url}/api/v0/code-exec`, {
    method: "POST",
    body,
    headers,
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

async function expectHealthy(): Promise<void> {
  const health = await fetch(`${server.url}/health/`);

  expect(server.process.exitCode).toBeNull();
  expect(health.status).toBe(200);
}

/** Sends raw bytes on a fresh connection and returns what the server wrote before closing. */
function sendRaw(request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(server.url).port), "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("end", () => resolve(received));
    // The server may reset the connection while the request is still being written; the response it
    // sent before that still counts.
    socket.on("error", (error) => (received === "" ? reject(error) : resolve(received)));
    socket.setTimeout(5000, () => socket.destroy(new Error("no response within 5 s")));
    socket.end(request);
  });
}

const deepList = "[".repeat(100_000) + "]".repeat(100_000);

const HANDLED: Row[] = [
  [
    "binary garbage as multipart",
    Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
    { "content-type": MULTIPART },
  ],
  [
    "multipart without a boundary",
    multipartPart('Content-Disposition: form-data; name="payload"', SIMPLE_PAYLOAD),
    { "content-type": "multipart/form-data" },
  ],
  [
    "multipart with a 200 KB part header",
    multipartPart(
      `Content-Disposition: form-data; name="payload"\r\nX-Big: ${"a".repeat(200_000)}`,
      SIMPLE_PAYLOAD,
    ),
    { "content-type": MULTIPART },
  ],
  [
    "multipart cut off mid-part",
    Buffer.from(`--xyz\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{"co`),
    { "content-type": MULTIPART },
  ],
  [
    "multipart with a 2000-byte field name",
    multipartPart(`Content-Disposition: form-data; name="${"n".repeat(2000)}"`, "x"),
    { "content-type": MULTIPART },
  ],
  [
    "urlencoded with invalid percent escapes",
    Buffer.from('payload=%zz%G1%e2%82%{"code"'),
    { "content-type": URLENCODED },
  ],
  [
    "urlencoded with invalid UTF-8",
    Buffer.concat([
      Buffer.from("payload="),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
      Buffer.from(SIMPLE_PAYLOAD),
    ]),
    { "content-type": URLENCODED },
  ],
  [
    "payload with lone surrogates",
    urlencoded('{"code": "s = \\"\\ud800\\"", "globals_dict": {"t": "\\udc00"}}'),
    { "content-type": URLENCODED },
  ],
  [
    "payload nested 100000 levels",
    urlencoded(`{"code": "x = 1", "globals_dict": {"a": ${deepList}}}`),
    { "content-type": URLENCODED },
  ],
  [
    "payload nested 100000 levels, unclosed",
    urlencoded(`{"code": "x = 1", "globals_dict": {"a": ${"[".repeat(100_000)}`),
    { "content-type": URLENCODED },
  ],
  [
    "int with 10000 digits",
    urlencoded(`{"code": "x = 1", "globals_dict": {"n": ${"9".repeat(10_000)}}}`),
    { "content-type": URLENCODED },
  ],
  [
    "payload JSON with a raw NUL",
    urlencoded('{"code": "x = 1\u0000", "globals_dict": {}}'),
    { "content-type": URLENCODED },
  ],
  [
    "code with an escaped NUL",
    urlencoded('{"code": "x = 1\\u0000", "globals_dict": {}}'),
    { "content-type": URLENCODED },
  ],
  ["payload that is a JSON string", urlencoded('"\\ud800"'), { "content-type": URLENCODED }],
  ["empty body with a form type", Buffer.alloc(0), { "content-type": URLENCODED }],
  ["JSON body", Buffer.from(`{"payload": ${deepList}}`), { "content-type": "application/json" }],
  ["binary body", Buffer.from([0, 1, 2, 255]), { "content-type": "application/octet-stream" }],
];

// Rejected by the Functions Framework's body parsers (body-parser 2) before the handler runs.
const FRAMEWORK_REJECTED: Row[] = [
  ["JSON with a NUL", Buffer.from('{"payload": \u0000}'), { "content-type": "application/json" }],
  [
    "urlencoded with 2000 parameters",
    Buffer.from(Array.from({ length: 2000 }, (_, i) => `p${i}=1`).join("&")),
    { "content-type": URLENCODED },
  ],
  [
    "urlencoded key nested 100 brackets deep",
    Buffer.from(`a${"[b]".repeat(100)}=1`),
    { "content-type": URLENCODED },
  ],
  [
    "urlencoded in UTF-16",
    urlencoded(SIMPLE_PAYLOAD),
    { "content-type": `${URLENCODED}; charset=utf-16` },
  ],
  [
    "gzip-encoded garbage",
    Buffer.from("not gzip at all"),
    { "content-type": URLENCODED, "content-encoding": "gzip" },
  ],
];

describe("hostile bodies", () => {
  it.each(HANDLED)("returns 4xx JSON or 200 for %s", async (_name, body, headers) => {
    const response = await post(body, headers);

    expect(response.contentType).toMatch(/^application\/json/);
    expect([200, 400, 413, 415]).toContain(response.status);
    expect(response.text).toMatch(response.status === 200 ? /^\{"globals_dict":/ : /^\{"error":"/);
    await expectHealthy();
  });

  it.each(FRAMEWORK_REJECTED)(
    "returns 4xx without a stack for %s",
    async (_name, body, headers) => {
      const response = await post(body, headers);

      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.text).not.toMatch(/node_modules|\bat \w+ \(/);
      await expectHealthy();
    },
  );

  it("closes a connection whose headers exceed Node's limit", async () => {
    const request = Buffer.from(
      `POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n` +
        "Content-Length: 0\r\n\r\n",
    );

    expect(await sendRaw(request)).toMatch(/^HTTP\/1\.1 431 /);
    await expectHealthy();
  });

  it("closes a connection with broken chunked encoding", async () => {
    const request = Buffer.from(
      "POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" +
        `Content-Type: ${URLENCODED}\r\n\r\nzz\r\n`,
    );

    expect(await sendRaw(request)).toMatch(/^HTTP\/1\.1 400 /);
    await expectHealthy();
  });

  it("bounds memory for a gzip bomb", async () => {
    const inflatedBytes = 200 * 1024 * 1024;
    const inflated = Buffer.alloc(inflatedBytes, 0x30);
    inflated.write("payload=");
    const body = gzipSync(inflated);
    const beforeKib = await readRssKib(server.process.pid!);
    const response = await post(body, { "content-type": URLENCODED, "content-encoding": "gzip" });
    const afterKib = await readRssKib(server.process.pid!);

    expect(body.length).toBeLessThan(1024 * 1024);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(afterKib - beforeKib).toBeLessThan(MAX_RSS_GROWTH_KIB);
    await expectHealthy();
  });

  it("leaves no process or directory behind", async () => {
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });
});
