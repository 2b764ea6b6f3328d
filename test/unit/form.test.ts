/**
 * parseForm with real bodies: multipart built by the platform's FormData and Request (the same
 * encoder fetch uses), urlencoded as browsers and edxapp's requests library send it, and the
 * limits that must reject rather than truncate.
 */
import { RequestRejectedError } from "../../function/errors.js";
import { parseForm, type Form, type FormLimits } from "../../function/request/form.js";

const LIMITS: FormLimits = {
  maxBodyBytes: 64 * 1024,
  maxPayloadBytes: 1024,
  maxLibraryBytes: 2048,
  maxParts: 4,
};
const URLENCODED = "application/x-www-form-urlencoded";

type Encoded = { contentType: string; body: Buffer };

/** Encodes a FormData the way fetch sends it. */
async function encode(form: FormData): Promise<Encoded> {
  const request = new Request("http://127.0.0.1/api/v0/code-exec", { method: "POST", body: form });
  return {
    contentType: request.headers.get("content-type")!,
    body: Buffer.from(await request.arrayBuffer()),
  };
}

async function parseMultipart(form: FormData, limits = LIMITS): Promise<Form> {
  const { contentType, body } = await encode(form);
  return parseForm(contentType, body, limits);
}

async function rejection(parsing: Promise<Form>): Promise<RequestRejectedError> {
  try {
    await parsing;
  } catch (error) {
    if (error instanceof RequestRejectedError) {
      return error;
    }
    throw error;
  }
  throw new Error("the form was accepted");
}

describe("parseForm multipart", () => {
  it("reads the payload and the library", async () => {
    const library = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0x0d, 0x0a]);
    const form = new FormData();
    form.append("payload", '{"code": "x = 1"}');
    form.append("python_lib.zip", new Blob([library]), "python_lib.zip");
    const parsed = await parseMultipart(form);

    expect(parsed.payload).toBe('{"code": "x = 1"}');
    expect([...parsed.files.keys()]).toEqual(["python_lib.zip"]);
    expect(parsed.files.get("python_lib.zip")).toEqual(library);
  });

  it("keeps non-ASCII payload text", async () => {
    const form = new FormData();
    form.append("payload", '{"code": "s = \'é ☃ 😀\'"}');

    expect((await parseMultipart(form)).payload).toBe('{"code": "s = \'é ☃ 😀\'"}');
  });

  it("keeps the last of repeated payload fields", async () => {
    const form = new FormData();
    form.append("payload", "first");
    form.append("payload", "second");

    expect((await parseMultipart(form)).payload).toBe("second");
  });

  it("reads an empty file", async () => {
    const form = new FormData();
    form.append("python_lib.zip", new Blob([]), "python_lib.zip");

    expect((await parseMultipart(form)).files.get("python_lib.zip")).toEqual(Buffer.alloc(0));
  });

  it("lists a file part under its field name", async () => {
    const form = new FormData();
    form.append("payload", new Blob(['{"code": ""}']), "payload.json");
    const parsed = await parseMultipart(form);

    expect(parsed.payload).toBeUndefined();
    expect([...parsed.files.keys()]).toEqual(["payload"]);
  });

  it("accepts a payload at the limit", async () => {
    const form = new FormData();
    form.append("payload", "p".repeat(LIMITS.maxPayloadBytes));

    expect((await parseMultipart(form)).payload).toHaveLength(LIMITS.maxPayloadBytes);
  });

  it("accepts a library at the limit", async () => {
    const parsed = await parseMultipart(withFile("python_lib.zip", LIMITS.maxLibraryBytes));

    expect(parsed.files.get("python_lib.zip")).toHaveLength(LIMITS.maxLibraryBytes);
  });

  it.each<[string, () => FormData, number, string, string]>([
    [
      "a payload over the limit",
      () => withField("payload", "p".repeat(LIMITS.maxPayloadBytes + 1)),
      413,
      "rejected.payload.too_large",
      "The 'payload' field is larger than the limit of 1024 bytes",
    ],
    [
      "another field over the limit",
      () => withField("note", "n".repeat(LIMITS.maxPayloadBytes + 1)),
      413,
      "rejected.body.field_too_large",
      "Form field 'note' is larger than the limit",
    ],
    [
      "a library over the limit",
      () => withFile("python_lib.zip", LIMITS.maxLibraryBytes + 1),
      413,
      "rejected.files.too_large",
      "Uploaded file is larger than the limit of 2048 bytes",
    ],
    [
      "too many parts",
      () => {
        const form = new FormData();
        for (let i = 0; i <= LIMITS.maxParts; i += 1) {
          form.append(`field${i}`, "x");
        }
        return form;
      },
      413,
      "rejected.body.too_many_parts",
      "Request body has more than the limit of 4 form parts",
    ],
  ])("rejects %s", async (_name, build, status, code, message) => {
    const error = await rejection(parseMultipart(build()));

    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
  });

  it("rejects an oversized body first", async () => {
    const { contentType, body } = await encode(withFile("python_lib.zip", 100));
    const error = await rejection(parseForm(contentType, body, { ...LIMITS, maxBodyBytes: 50 }));

    expect(error.status).toBe(413);
    expect(error.code).toBe("rejected.body.too_large");
    expect(error.message).toBe("Request body is larger than the limit of 50 bytes");
  });

  it.each<[string, string, Buffer]>([
    ["no boundary", "multipart/form-data", Buffer.from("--x\r\n\r\n")],
    ["a truncated body", "multipart/form-data; boundary=x", Buffer.from("--x\r\nContent-Dis")],
    ["binary garbage", "multipart/form-data; boundary=x", Buffer.from([0xff, 0x00, 0x2d, 0x2d])],
  ])("rejects %s as malformed", async (_name, contentType, body) => {
    const error = await rejection(parseForm(contentType, body, LIMITS));

    expect(error.status).toBe(400);
    expect(error.code).toBe("rejected.body.malformed");
    expect(error.message).toMatch(/^Malformed multipart body: \S/);
  });

  it("reads an upper-case media type", async () => {
    const { contentType, body } = await encode(withField("payload", "p"));
    const upperCase = contentType.replace("multipart/form-data", "MULTIPART/FORM-DATA");

    expect((await parseForm(upperCase, body, LIMITS)).payload).toBe("p");
  });
});

describe("parseForm urlencoded", () => {
  const parseText = (text: string | Buffer, contentType = URLENCODED) =>
    parseForm(contentType, Buffer.from(text), LIMITS);

  it.each<[string, string | Buffer, string | undefined]>([
    ["a plain payload", "payload=%7B%22code%22%3A+%22x%22%7D", '{"code": "x"}'],
    ["the last of repeated payloads", "payload=a&payload=b", "b"],
    ["'+' as a space", "payload=a+b", "a b"],
    ["UTF-8 escapes", "payload=%C3%A9%E2%98%83", "é☃"],
    ["raw UTF-8 bytes", Buffer.from("payload=é☃", "utf8"), "é☃"],
    ["invalid UTF-8 as U+FFFD", "payload=%FF%FE", "\ufffd\ufffd"],
    [
      "raw invalid UTF-8 as U+FFFD",
      Buffer.from([0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0x3d, 0xff]),
      "\ufffd",
    ],
    ["malformed escapes as written", "payload=%zz%4", "%zz%4"],
    ["no payload", "other=1", undefined],
    ["an empty body", "", undefined],
  ])("reads %s", async (_name, body, payload) => {
    expect((await parseText(body)).payload).toBe(payload);
  });

  it("reads a charset parameter", async () => {
    expect((await parseText("payload=x", `${URLENCODED}; charset=UTF-8`)).payload).toBe("x");
  });

  it("has no files", async () => {
    expect((await parseText("payload=x&python_lib.zip=y")).files.size).toBe(0);
  });

  it("rejects too many fields", async () => {
    const error = await rejection(parseText("a=1&b=2&c=3&d=4&payload=x"));

    expect(error.status).toBe(413);
    expect(error.code).toBe("rejected.body.too_many_parts");
  });

  it("measures the payload limit in UTF-8 bytes", async () => {
    const accepted = await parseText(`payload=${"%C3%A9".repeat(512)}`);
    const error = await rejection(parseText(`payload=${"%C3%A9".repeat(513)}`));

    expect(accepted.payload).toHaveLength(512);
    expect(error.status).toBe(413);
    expect(error.message).toBe("The 'payload' field is larger than the limit of 1024 bytes");
  });
});

describe("parseForm media types", () => {
  it.each<[string | undefined, string]>([
    ["application/json", "application/json"],
    ["text/plain; charset=utf-8", "text/plain"],
    [undefined, ""],
  ])("rejects %p with 415", async (contentType, mediaType) => {
    const error = await rejection(parseForm(contentType, Buffer.from("payload=x"), LIMITS));

    expect(error.status).toBe(415);
    expect(error.code).toBe("rejected.body.media_type");
    expect(error.message).toBe(
      `Unsupported Content-Type '${mediaType}': send multipart/form-data or ` +
        "application/x-www-form-urlencoded",
    );
  });

  it("reads an untyped empty body", async () => {
    expect(await parseForm(undefined, undefined, LIMITS)).toEqual({
      payload: undefined,
      files: new Map(),
    });
  });
});

function withField(name: string, value: string): FormData {
  const form = new FormData();
  form.append(name, value);
  return form;
}

function withFile(name: string, sizeBytes: number): FormData {
  const form = new FormData();
  form.append(name, new Blob([Buffer.alloc(sizeBytes, 1)]), name);
  return form;
}
