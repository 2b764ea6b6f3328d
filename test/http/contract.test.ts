/**
 * The HTTP contract, row by row, against the real service: statuses, exact bodies and routing.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  execText,
  postMultipart,
  postUrlEncoded,
  SECOND_SERVICE_ENV,
  startServer,
  type TestServer,
} from "../helpers/server.js";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");
let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    CODEJAIL_MAX_PAYLOAD_BYTES: String(64 * 1024),
    CODEJAIL_MAX_LIBRARY_BYTES: String(64 * 1024),
    CODEJAIL_MAX_BODY_BYTES: String(256 * 1024),
    CODEJAIL_MAX_PARTS: "4",
  });
});

afterAll(async () => {
  await server.stop();
});

describe("code-exec contract", () => {
  it("returns updated globals for code that completes", async () => {
    const response = await execText(server.url, "x = x + 1", '{"x": 16}');

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.text).toBe('{"globals_dict":{"x":17}}');
  });

  it("returns emsg and unchanged globals for code that raises", async () => {
    const response = await execText(server.url, "x = 2\nraise ValueError('no')", '{"x": 1}');
    const body = JSON.parse(response.text);

    expect(response.status).toBe(200);
    expect(body.globals_dict).toEqual({ x: 1 });
    expect(body.emsg).toBe(
      "Couldn't execute jailed code: stdout: b'', stderr: b'Traceback (most recent call last):\\n" +
        '  File "jailed_code", line 2, in <module>\\n' +
        "    raise ValueError(\\'no\\')\\nValueError: no\\n' with status code: 1",
    );
  });

  it.each([
    ["no payload field", undefined, "Missing 'payload' parameter in POST body"],
    [
      "payload not JSON",
      "{",
      "Unable to parse payload JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ],
    [
      "empty payload",
      "",
      "Unable to parse payload JSON: Expecting value: line 1 column 1 (char 0)",
    ],
    [
      "missing code",
      '{"globals_dict": {}}',
      "Payload JSON did not match schema at path $: 'code' is a required property",
    ],
    [
      "code not a string",
      '{"code": 1, "globals_dict": {}}',
      "Payload JSON did not match schema at path $.code: 1 is not of type 'string'",
    ],
    [
      "python_path entry",
      '{"code": "", "globals_dict": {}, "python_path": ["/etc"]}',
      "Only allowed entry in 'python_path' is 'python_lib.zip'",
    ],
    [
      "unsafely true",
      '{"code": "", "globals_dict": {}, "unsafely": true}',
      "Refusing codejail execution with unsafely=true",
    ],
  ])("rejects %s with 400", async (_name, payload, message) => {
    const response = await postMultipart(server.url, payload);

    expect(response.status).toBe(400);
    expect(JSON.parse(response.text)).toEqual({ error: message });
  });

  it("rejects a file part with another name", async () => {
    const payload = '{"code": "", "globals_dict": {}}';
    const response = await postMultipart(server.url, payload, { "evil.zip": Buffer.from("x") });

    expect(response.status).toBe(400);
    expect(JSON.parse(response.text)).toEqual({
      error: "Only allowed name for uploaded file is 'python_lib.zip'",
    });
  });

  it("checks python_path before file names and unsafely", async () => {
    const payload = '{"code": "", "globals_dict": {}, "python_path": ["x"], "unsafely": true}';
    const response = await postMultipart(server.url, payload, { "evil.zip": Buffer.from("x") });

    expect(JSON.parse(response.text).error).toBe(
      "Only allowed entry in 'python_path' is 'python_lib.zip'",
    );
  });
});

describe("request limits", () => {
  it("rejects an oversized payload with 413 instead of truncating it", async () => {
    const code = `x = '${"a".repeat(70 * 1024)}'`;
    const response = await postMultipart(server.url, JSON.stringify({ code, globals_dict: {} }));

    expect(response.status).toBe(413);
    expect(JSON.parse(response.text).error).toMatch(/'payload' field is larger than the limit/);
  });

  it("rejects an oversized urlencoded payload with 413", async () => {
    const code = `x = '${"a".repeat(70 * 1024)}'`;
    const response = await postUrlEncoded(server.url, JSON.stringify({ code, globals_dict: {} }));

    expect(response.status).toBe(413);
  });

  it("rejects an oversized course library with 413", async () => {
    const payload = '{"code": "", "globals_dict": {}}';
    const library = Buffer.alloc(70 * 1024, 1);
    const response = await postMultipart(server.url, payload, { "python_lib.zip": library });

    expect(response.status).toBe(413);
    expect(JSON.parse(response.text).error).toMatch(/Uploaded file is larger than the limit/);
  });

  it("rejects too many parts with 413", async () => {
    const files = Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [`f${i}`, Buffer.from("x")]),
    );
    const response = await postMultipart(server.url, '{"code": "", "globals_dict": {}}', files);

    expect(response.status).toBe(413);
  });

  it("rejects a truncated multipart body with 400", async () => {
    const body = '--XYZ\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{"code":';
    const response = await fetch(`${server.url}/api/v0/code-exec`, {
      method: "POST",
      headers: { "Content-Type": "multipart/form-data; boundary=XYZ" },
      body,
    });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(
      /^Malformed multipart body/,
    );
  });

  it("rejects multipart without a boundary with 400", async () => {
    const response = await fetch(`${server.url}/api/v0/code-exec`, {
      method: "POST",
      headers: { "Content-Type": "multipart/form-data" },
      body: "x",
    });

    expect(response.status).toBe(400);
  });

  it("rejects another content type with 415", async () => {
    const response = await fetch(`${server.url}/api/v0/code-exec`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "payload=x",
    });

    expect(response.status).toBe(415);
  });
});

describe("routing", () => {
  it("answers health with OK", async () => {
    const response = await fetch(`${server.url}/health/`);

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"status":"OK"}');
  });

  it("answers an unknown path with 404 JSON", async () => {
    const response = await fetch(`${server.url}/nope`);

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: "Not found" });
  });

  it("answers a wrong method with 405 JSON", async () => {
    const response = await fetch(`${server.url}/api/v0/code-exec`);

    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(await response.json()).toEqual({ error: "Method not allowed" });
  });
});

describe("edxapp-shaped requests", () => {
  it("runs the urlencoded example without a library", async () => {
    const payload = await readFile(path.join(FIXTURES, "cfn-check.payload.json"), "utf8");
    const response = await postUrlEncoded(server.url, payload);

    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({
      globals_dict: { expect: "20", ans: ["11", "9"], cfn_return: true },
    });
  });

  it("runs the multipart example with python_lib.zip", async () => {
    const payload = await readFile(path.join(FIXTURES, "answer-with-library.payload.json"), "utf8");
    const library = await readFile(path.join(FIXTURES, "python_lib.zip"));
    const response = await postMultipart(server.url, payload, { "python_lib.zip": library });
    const globals = JSON.parse(response.text).globals_dict;

    expect(response.status).toBe(200);
    expect(globals.correct).toEqual(["correct"]);
    expect(globals.overall_message).toBe("Well done");
    expect(globals.N).toBe(6);
    expect(globals.submission).toEqual(["21"]);
  });
});

describe("switches", () => {
  it("answers 500 when execution is switched off", async () => {
    const disabled = await startServer({ ...SECOND_SERVICE_ENV, CODEJAIL_ENABLED: "false" });
    try {
      const response = await execText(disabled.url, "x = 1");

      expect(response.status).toBe(500);
      expect(JSON.parse(response.text)).toEqual({ error: "Codejail service not enabled" });
    } finally {
      await disabled.stop();
    }
  });

  it("answers 500 and 503 health when the safety check fails", async () => {
    const broken = await startServer({
      ...SECOND_SERVICE_ENV,
      CODEJAIL_RUNNER_DIR: "/nonexistent",
    });
    try {
      const response = await execText(broken.url, "x = 1");
      const health = await fetch(`${broken.url}/health/`);

      expect(response.status).toBe(500);
      expect(JSON.parse(response.text)).toEqual({
        error: "Codejail service is not correctly configured",
      });
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: "UNAVAILABLE" });
    } finally {
      await broken.stop();
    }
  });
});
