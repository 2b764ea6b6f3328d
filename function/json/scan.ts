/**
 * Scanners for the leaf tokens of a JSON document: strings, numbers and named constants. They
 * follow CPython 3.11's C accelerator (`Modules/_json.c`: `scanstring_unicode`,
 * `_match_number_unicode`, `scan_once_unicode`) step by step, so that the same inputs fail at
 * the same positions with the same messages. Offsets are UTF-16 indices into the document.
 */
import { JsonIntLimitError, JsonSyntaxError, MAX_INT_DIGITS } from "./errors.js";
import { PyFloat, PyInt, type JsonValue } from "./value.js";

/** A scanned value and the offset just after it. */
export type Scanned = { value: JsonValue; end: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

const CONSTANTS: ReadonlyArray<readonly [string, JsonValue]> = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["NaN", new PyFloat(NaN)],
  ["Infinity", new PyFloat(Infinity)],
  ["-Infinity", new PyFloat(-Infinity)],
];

/**
 * Scans a string, a named constant or a number starting at `start`. Throws "Expecting value" when
 * none starts there (including at the end of the document), like Python's StopIteration path.
 */
export function scanScalar(text: string, start: number): Scanned {
  if (text.charCodeAt(start) === QUOTE) {
    return scanString(text, start + 1);
  }

  for (const [literal, value] of CONSTANTS) {
    if (text.startsWith(literal, start)) {
      return { value, end: start + literal.length };
    }
  }

  const number = scanNumber(text, start);
  if (number === undefined) {
    throw new JsonSyntaxError("Expecting value", text, start);
  }
  return number;
}

/** Scans the rest of a string whose opening quote is at `start - 1`, rejecting raw controls. */
export function scanString(text: string, start: number): Scanned & { value: string } {
  const length = text.length;
  const begin = start - 1;
  const chunks: string[] = [];
  let end = start;
  for (;;) {
    let next = end;
    let unit = NaN;
    for (; next < length; next++) {
      unit = text.charCodeAt(next);
      if (unit === QUOTE || unit === BACKSLASH) {
        break;
      }
      if (unit <= 0x1f) {
        throw new JsonSyntaxError("Invalid control character at", text, next);
      }
    }
    if (next >= length) {
      throw new JsonSyntaxError("Unterminated string starting at", text, begin);
    }

    chunks.push(text.slice(end, next));
    if (unit === QUOTE) {
      return { value: chunks.length === 1 ? chunks[0] : chunks.join(""), end: next + 1 };
    }

    // `next` is at a backslash.
    next += 1;
    if (next === length) {
      throw new JsonSyntaxError("Unterminated string starting at", text, begin);
    }
    const escape = text[next];
    if (escape !== "u") {
      end = next + 1;
      const decoded = SIMPLE_ESCAPES[escape];
      if (decoded === undefined) {
        throw new JsonSyntaxError("Invalid \\escape", text, end - 2);
      }
      chunks.push(decoded);
      continue;
    }

    next += 1;
    end = next + 4;
    if (end >= length) {
      // CPython's check: an escape that reaches the end is reported, not the missing quote.
      throw new JsonSyntaxError("Invalid \\uXXXX escape", text, next - 1);
    }
    let codeUnits = [readHex4(text, next, end)];

    // A high surrogate joins a directly following low-surrogate escape. Otherwise it stays a lone
    // UTF-16 unit, because Python keeps a lone surrogate as a code point of its own.
    const high = codeUnits[0];
    if (high >= 0xd800 && high <= 0xdbff && end + 6 < length) {
      if (text.charCodeAt(end) === BACKSLASH && text[end + 1] === "u") {
        const low = readHex4(text, end + 2, end + 6);
        if (low >= 0xdc00 && low <= 0xdfff) {
          codeUnits = [high, low];
          end += 6;
        }
      }
    }
    chunks.push(String.fromCharCode(...codeUnits));
  }
}

/** Reads the 4 hex digits in [from, to). An invalid digit is reported at the escape's `u`. */
function readHex4(text: string, from: number, to: number): number {
  const digits = text.slice(from, to);
  if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
    throw new JsonSyntaxError("Invalid \\uXXXX escape", text, to - 5);
  }
  return parseInt(digits, 16);
}

/**
 * Matches `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?` as CPython's C matcher does. The
 * result is an int when there is neither fraction nor exponent, else a float (`1e400` is inf).
 * An `e` without exponent digits is left unread. Returns undefined when no number starts there.
 */
function scanNumber(text: string, start: number): Scanned | undefined {
  const last = text.length - 1;
  let index = start;
  if (text.charCodeAt(index) === 0x2d) {
    index += 1;
    if (index > last) {
      return undefined;
    }
  }

  const first = text.charCodeAt(index);
  if (first >= 0x31 && first <= 0x39) {
    index = skipDigits(text, index + 1);
  } else if (first === 0x30) {
    index += 1;
  } else {
    return undefined;
  }

  let isFloat = false;
  if (index < last && text[index] === "." && isDigit(text.charCodeAt(index + 1))) {
    isFloat = true;
    index = skipDigits(text, index + 2);
  }

  if (index < last && (text[index] === "e" || text[index] === "E")) {
    const exponentStart = index;
    index += 1;
    if (index < last && (text[index] === "-" || text[index] === "+")) {
      index += 1;
    }
    index = skipDigits(text, index);
    if (isDigit(text.charCodeAt(index - 1))) {
      isFloat = true;
    } else {
      index = exponentStart;
    }
  }

  const literal = text.slice(start, index);
  if (isFloat) {
    return { value: new PyFloat(Number(literal)), end: index };
  }

  const digitCount = literal.startsWith("-") ? literal.length - 1 : literal.length;
  if (digitCount > MAX_INT_DIGITS) {
    throw new JsonIntLimitError(digitCount);
  }
  return { value: new PyInt(literal), end: index };
}

function skipDigits(text: string, from: number): number {
  let index = from;
  while (isDigit(text.charCodeAt(index))) {
    index += 1;
  }
  return index;
}

function isDigit(unit: number): boolean {
  return unit >= 0x30 && unit <= 0x39;
}
