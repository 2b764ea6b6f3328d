/**
 * Turns the `payload` form field into a validated Payload: present, JSON in Python's dialect (so
 * NaN, Infinity and integers of any size survive), and matching the schema.
 */
import { RequestRejectedError } from "../errors.js";
import { JsonIntLimitError, JsonSyntaxError, parsePythonJson } from "../json/parse.js";
import type { JsonValue } from "../json/value.js";
import { validatePayload, type Payload } from "./schema.js";

/** Parses and validates the field; throws RequestRejectedError with the reference message. */
export function parsePayload(text: string | undefined): Payload {
  if (text === undefined) {
    throw new RequestRejectedError(
      "rejected.payload.missing",
      "Missing 'payload' parameter in POST body",
    );
  }

  let value: JsonValue;
  try {
    value = parsePythonJson(text);
  } catch (error) {
    // Python's json module rejects integers longer than 4300 digits with a ValueError; the
    // reference service returns 500 for that, this one a 400 that names the limit.
    if (!(error instanceof JsonSyntaxError || error instanceof JsonIntLimitError)) {
      throw error;
    }
    throw new RequestRejectedError(
      "rejected.payload.json",
      `Unable to parse payload JSON: ${error.message}`,
    );
  }

  return validatePayload(value);
}
