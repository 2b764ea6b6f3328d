/**
 * JSON responses in the reference service's byte format: Python's json dialect with compact
 * separators and UTF-8 text (see json/serialize.ts for the exact rules).
 */
import type { Response } from "@google-cloud/functions-framework";
import { serializePythonJson } from "../json/serialize.js";
import type { JsonObject, JsonValue } from "../json/value.js";

/** Sends a JSON object with the given status. */
export function sendJson(
  res: Response,
  status: number,
  body: JsonObject,
  headers: Record<string, string> = {},
): void {
  const text = serializePythonJson(body, { ensureAscii: false });
  res
    .status(status)
    .set({ "Content-Type": "application/json", ...headers })
    .send(Buffer.from(text, "utf8"));
}

/** Builds a JSON object from plain entries, for fixed-shape bodies like `{"error": ...}`. */
export function toJsonObject(entries: Record<string, JsonValue>): JsonObject {
  return new Map(Object.entries(entries));
}
