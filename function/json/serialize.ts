/**
 * Encodes a JsonValue as Python's `json.dumps(value, separators=(",", ":"),
 * ensure_ascii=...)` prints it (CPython 3.11, `allow_nan` on), with two deliberate differences
 * when `ensureAscii` is false:
 * - U+2028 and U+2029 are written as `\u2028` and `\u2029`, as Django REST framework's
 *   JSONRenderer does, so that the text stays valid JavaScript;
 * - a lone surrogate is written as a `\udXXX` escape, where Python would emit a character that
 *   cannot be encoded as UTF-8 and the response would fail.
 *
 * The encoder is iterative, so nesting depth is limited only by memory.
 */
import { toPythonFloatRepr } from "./float.js";
import { PyFloat, PyInt, type JsonValue } from "./value.js";

export type SerializeOptions = Readonly<{ ensureAscii: boolean }>;

/** An open array or object and the position of its next member. */
type Frame =
  | { items: JsonValue[]; next: number }
  | { entries: Iterator<[string, JsonValue]>; isFirst: boolean };

// Everything Python escapes with ensure_ascii=True: `"`, `\`, C0 controls, and every UTF-16
// unit above `~` (so an astral character becomes its surrogate pair, as Python writes it).
const ASCII_UNSAFE = /["\\\u0000-\u001f\u007f-\uffff]/g;

// With ensure_ascii=False Python escapes only `"`, `\` and C0 controls. This module adds the line
// and paragraph separators and lone surrogates (a high one not followed by a low one, or a low
// one not preceded by a high one).
const UNICODE_UNSAFE = new RegExp(
  [
    '["\\\\\\u0000-\\u001f\\u2028\\u2029]',
    "[\\ud800-\\udbff](?![\\udc00-\\udfff])",
    "(?<![\\ud800-\\udbff])[\\udc00-\\udfff]",
  ].join("|"),
  "g",
);

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Returns the compact JSON text of `value`, byte for byte as described above. */
export function serializePythonJson(value: JsonValue, options: SerializeOptions): string {
  const unsafe = options.ensureAscii ? ASCII_UNSAFE : UNICODE_UNSAFE;
  const output: string[] = [];
  const stack: Frame[] = [];
  let pending: JsonValue | undefined = value;
  let hasPending = true;
  for (;;) {
    if (hasPending) {
      hasPending = false;
      if (Array.isArray(pending)) {
        output.push("[");
        stack.push({ items: pending, next: 0 });
      } else if (pending instanceof Map) {
        output.push("{");
        stack.push({ entries: pending.entries(), isFirst: true });
      } else {
        output.push(toScalarJson(pending ?? null, unsafe));
      }
    }

    // Move on to the next member of the innermost open container, closing finished ones.
    const frame = stack.at(-1);
    if (frame === undefined) {
      return output.join("");
    }
    if ("items" in frame) {
      if (frame.next === frame.items.length) {
        output.push("]");
        stack.pop();
        continue;
      }
      if (frame.next > 0) {
        output.push(",");
      }
      pending = frame.items[frame.next];
      frame.next += 1;
    } else {
      const entry = frame.entries.next();
      if (entry.done === true) {
        output.push("}");
        stack.pop();
        continue;
      }
      output.push(frame.isFirst ? "" : ",", toStringJson(entry.value[0], unsafe), ":");
      frame.isFirst = false;
      pending = entry.value[1];
    }
    hasPending = true;
  }
}

function toScalarJson(value: null | boolean | string | PyInt | PyFloat, unsafe: RegExp): string {
  if (value === null) {
    return "null";
  }
  if (typeof value === "boolean") {
    return value ? "true" : "false";
  }
  if (typeof value === "string") {
    return toStringJson(value, unsafe);
  }
  if (value instanceof PyInt) {
    return value.digits;
  }
  return toFloatJson(value.value);
}

/** Python writes non-finite floats as the JavaScript-style names it also accepts on input. */
function toFloatJson(value: number): string {
  if (Number.isNaN(value)) {
    return "NaN";
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? "Infinity" : "-Infinity";
  }
  return toPythonFloatRepr(value);
}

function toStringJson(text: string, unsafe: RegExp): string {
  return `"${text.replace(unsafe, toEscape)}"`;
}

function toEscape(unit: string): string {
  return SHORT_ESCAPES[unit] ?? `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`;
}
