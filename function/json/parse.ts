/**
 * Decodes JSON text exactly as CPython 3.11's `json.loads(str)` does with its default options.
 * Ints of any size stay exact, and `NaN`, `Infinity` and `-Infinity` are accepted. Strings are
 * strict, so raw control characters are rejected. A repeated key keeps its first position and
 * its last value. Every syntax error is a JsonSyntaxError whose message is the Python exception's
 * `str()`.
 *
 * The parser is iterative, so nesting depth is limited only by memory. Python instead raises
 * RecursionError at roughly 1000 levels (its recursion limit), which the reference service does
 * not catch.
 */
import { JsonSyntaxError } from "./errors.js";
import { scanScalar, scanString } from "./scan.js";
import type { JsonObject, JsonValue } from "./value.js";

export { JsonIntLimitError, JsonSyntaxError } from "./errors.js";

/** An open array, or an open object with the key whose value is being read. */
type Frame = { items: JsonValue[] } | { entries: JsonObject; key: string };

/**
 * Parses a whole document. Throws JsonSyntaxError for malformed text, and JsonIntLimitError for
 * an int literal longer than Python's default limit of 4300 digits.
 */
export function parsePythonJson(text: string): JsonValue {
  if (text.charCodeAt(0) === 0xfeff) {
    throw new JsonSyntaxError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0);
  }

  const { value, end } = parseValue(text, skipWhitespace(text, 0));
  const rest = skipWhitespace(text, end);
  if (rest !== text.length) {
    throw new JsonSyntaxError("Extra data", text, rest);
  }
  return value;
}

/** Parses one value starting at `start`, with an explicit stack in place of recursion. */
function parseValue(text: string, start: number): { value: JsonValue; end: number } {
  const stack: Frame[] = [];
  let index = start;
  for (;;) {
    // Read one value, or open a container and go on to its first member.
    let value: JsonValue;
    const opening = text[index];
    if (opening === "{") {
      index = skipWhitespace(text, index + 1);
      if (text[index] !== "}") {
        const key = readKey(text, index);
        stack.push({ entries: new Map(), key: key.value });
        index = key.end;
        continue;
      }
      value = new Map();
      index += 1;
    } else if (opening === "[") {
      index = skipWhitespace(text, index + 1);
      if (text[index] !== "]") {
        stack.push({ items: [] });
        continue;
      }
      value = [];
      index += 1;
    } else {
      const scanned = scanScalar(text, index);
      value = scanned.value;
      index = scanned.end;
    }

    // Store the value in its container, then close every container that ends right after it.
    for (;;) {
      const frame = stack.at(-1);
      if (frame === undefined) {
        return { value, end: index };
      }

      index = skipWhitespace(text, index);
      const closing = "items" in frame ? "]" : "}";
      if ("items" in frame) {
        frame.items.push(value);
      } else {
        frame.entries.set(frame.key, value);
      }
      if (text[index] === closing) {
        value = "items" in frame ? frame.items : frame.entries;
        index += 1;
        stack.pop();
        continue;
      }
      if (text[index] !== ",") {
        throw new JsonSyntaxError("Expecting ',' delimiter", text, index);
      }

      index = skipWhitespace(text, index + 1);
      if (!("items" in frame)) {
        const key = readKey(text, index);
        frame.key = key.value;
        index = key.end;
      }
      break;
    }
  }
}

/** Reads `"key"` and the `:` after it, and returns the key and the offset of its value. */
function readKey(text: string, start: number): { value: string; end: number } {
  if (text[start] !== '"') {
    throw new JsonSyntaxError("Expecting property name enclosed in double quotes", text, start);
  }

  const key = scanString(text, start + 1);
  const colon = skipWhitespace(text, key.end);
  if (text[colon] !== ":") {
    throw new JsonSyntaxError("Expecting ':' delimiter", text, colon);
  }
  return { value: key.value, end: skipWhitespace(text, colon + 1) };
}

/** Skips JSON whitespace, which is only space, tab, newline and carriage return. */
function skipWhitespace(text: string, from: number): number {
  let index = from;
  for (;;) {
    const unit = text.charCodeAt(index);
    if (unit !== 0x20 && unit !== 0x09 && unit !== 0x0a && unit !== 0x0d) {
      return index;
    }
    index += 1;
  }
}
