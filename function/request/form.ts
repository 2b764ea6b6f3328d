/**
 * Reads the form that edxapp posts: `application/x-www-form-urlencoded` when there is no course
 * library, `multipart/form-data` with a `python_lib.zip` file part when there is one.
 *
 * The Functions Framework has already buffered the whole body into `rawBody`, so every size and
 * count limit is enforced here, explicitly: busboy truncates silently unless its limit events are
 * checked, and a truncated payload must never reach the sandbox.
 */
import busboy from "busboy";
import { RequestRejectedError, RequestTooLargeError } from "../errors.js";

export type UploadedFile = Readonly<{ name: string; data: Buffer }>;

/** The decoded form: the `payload` field (last one wins) and the file parts, by field name. */
export type Form = Readonly<{ payload: string | undefined; files: ReadonlyMap<string, Buffer> }>;

export type FormLimits = Readonly<{
  maxBodyBytes: number;
  maxPayloadBytes: number;
  maxLibraryBytes: number;
  maxParts: number;
}>;

/** Parses the raw body by its content type; throws a RequestRejectedError for a bad body. */
export async function parseForm(
  contentType: string | undefined,
  rawBody: Buffer | undefined,
  limits: FormLimits,
): Promise<Form> {
  const body = rawBody ?? Buffer.alloc(0);
  if (body.length > limits.maxBodyBytes) {
    throw new RequestTooLargeError(
      "rejected.body.too_large",
      `Request body is larger than the limit of ${limits.maxBodyBytes} bytes`,
    );
  }

  const mediaType = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (mediaType === "application/x-www-form-urlencoded") {
    return parseUrlEncoded(body, limits);
  }
  if (mediaType === "multipart/form-data") {
    return parseMultipart(contentType!, body, limits);
  }
  if (mediaType === "" && body.length === 0) {
    return { payload: undefined, files: new Map() };
  }

  throw new RequestRejectedError(
    "rejected.body.media_type",
    `Unsupported Content-Type '${mediaType}': send multipart/form-data or ` +
      "application/x-www-form-urlencoded",
    415,
  );
}

function parseUrlEncoded(body: Buffer, limits: FormLimits): Form {
  // URLSearchParams decodes like Django's QueryDict: '+' is a space, invalid UTF-8 becomes U+FFFD
  // and malformed percent escapes stay as written.
  const params = new URLSearchParams(body.toString("latin1").replace(/[^\x00-\x7f]/g, encodeChar));
  const payloads = params.getAll("payload");
  if (params.size > limits.maxParts) {
    throw tooManyParts(limits.maxParts);
  }

  const payload = payloads.at(-1);
  if (payload !== undefined && Buffer.byteLength(payload) > limits.maxPayloadBytes) {
    throw payloadTooLarge(limits.maxPayloadBytes);
  }

  return { payload, files: new Map() };
}

/** Percent-encodes a raw byte (read as latin1) so URLSearchParams decodes it as UTF-8 bytes. */
function encodeChar(char: string): string {
  return `%${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

function parseMultipart(contentType: string, body: Buffer, limits: FormLimits): Promise<Form> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { "content-type": contentType },
        // busboy flags a value that reaches its limit, so each limit is one byte above ours:
        // a flag then means the value is longer than the limit allows.
        limits: {
          fieldSize: limits.maxPayloadBytes + 1,
          fileSize: limits.maxLibraryBytes + 1,
          parts: limits.maxParts,
          fieldNameSize: 200,
          headerPairs: 20,
        },
      });
    } catch (error) {
      reject(malformed(error));
      return;
    }

    const fields = new Map<string, string>();
    const files = new Map<string, Buffer>();
    let failure: Error | undefined;
    const fail = (error: Error) => {
      failure ??= error;
    };

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) {
        fail(name === "payload" ? payloadTooLarge(limits.maxPayloadBytes) : fieldTooLarge(name));
      }
      fields.set(name, value);
    });
    parser.on("file", (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("limit", () => fail(libraryTooLarge(limits.maxLibraryBytes)));
      stream.on("close", () => files.set(name, Buffer.concat(chunks)));
    });
    parser.on("partsLimit", () => fail(tooManyParts(limits.maxParts)));
    parser.on("filesLimit", () => fail(tooManyParts(limits.maxParts)));
    parser.on("fieldsLimit", () => fail(tooManyParts(limits.maxParts)));
    parser.on("error", (error: unknown) => reject(failure ?? malformed(error)));
    parser.on("close", () => {
      if (failure !== undefined) {
        reject(failure);
        return;
      }

      resolve({ payload: fields.get("payload"), files });
    });
    parser.end(body);
  });
}

function malformed(error: unknown): RequestRejectedError {
  const detail = error instanceof Error ? error.message : String(error);
  return new RequestRejectedError("rejected.body.malformed", `Malformed multipart body: ${detail}`);
}

function payloadTooLarge(maxBytes: number): RequestTooLargeError {
  return new RequestTooLargeError(
    "rejected.payload.too_large",
    `The 'payload' field is larger than the limit of ${maxBytes} bytes`,
  );
}

function fieldTooLarge(name: string): RequestTooLargeError {
  return new RequestTooLargeError(
    "rejected.body.field_too_large",
    `Form field '${name.slice(0, 100)}' is larger than the limit`,
  );
}

function libraryTooLarge(maxBytes: number): RequestTooLargeError {
  return new RequestTooLargeError(
    "rejected.files.too_large",
    `Uploaded file is larger than the limit of ${maxBytes} bytes`,
  );
}

function tooManyParts(maxParts: number): RequestTooLargeError {
  return new RequestTooLargeError(
    "rejected.body.too_many_parts",
    `Request body has more than the limit of ${maxParts} form parts`,
  );
}
