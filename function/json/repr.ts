/**
 * Python's `repr()` of a decoded JSON value, which python-jsonschema puts into its messages
 * (`1 is not of type 'string'`). It covers None, True, False, ints, float reprs (`nan`, `inf`),
 * str reprs, lists (`[1, 2]`) and dicts (`{'a': 1}`). The writer is iterative, so nesting depth
 * is limited only by memory.
 */
import { toPythonFloatRepr } from "./float.js";
import { PyInt, type JsonValue } from "./value.js";

/** An open list or dict and the position of its next member. */
type Frame =
  | { items: JsonValue[]; next: number }
  | { entries: Iterator<[string, JsonValue]>; isFirst: boolean };

/** Returns `repr(value)` as CPython 3.11 prints it. */
export function toPythonRepr(value: JsonValue): string {
  const output: string[] = [];
  const stack: Frame[] = [];
  let pending: JsonValue = value;
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
        output.push(toScalarRepr(pending));
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
        output.push(", ");
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
      output.push(frame.isFirst ? "" : ", ", toStrRepr(entry.value[0]), ": ");
      frame.isFirst = false;
      pending = entry.value[1];
    }
    hasPending = true;
  }
}

function toScalarRepr(value: Exclude<JsonValue, JsonValue[] | Map<string, JsonValue>>): string {
  if (value === null) {
    return "None";
  }
  if (typeof value === "boolean") {
    return value ? "True" : "False";
  }
  if (typeof value === "string") {
    return toStrRepr(value);
  }
  return value instanceof PyInt ? value.digits : toPythonFloatRepr(value.value);
}

// Characters `str.isprintable()` rejects: Unicode categories C* (controls, format characters,
// surrogates, private use, unassigned) and Z* (separators) except the ASCII space.
// NOTE: category data is the Unicode version of Node's ICU, not Python 3.11's Unicode 14.0, so a
// character assigned after 14.0 prints as itself here while Python would escape it.
const NON_PRINTABLE = "(?! )[\\p{C}\\p{Z}]";
const ESCAPED_IN_SINGLE_QUOTES = new RegExp(`['\\\\]|${NON_PRINTABLE}`, "gu");
const ESCAPED_IN_DOUBLE_QUOTES = new RegExp(`["\\\\]|${NON_PRINTABLE}`, "gu");

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  "'": "\\'",
  '"': '\\"',
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/**
 * Returns `repr(text)`: single quotes unless the text contains `'` and no `"`, and escapes for
 * the quote, backslash, tab, newline, carriage return and non-printable characters (`\xNN`,
 * `\uNNNN` or `\UNNNNNNNN` by size, lowercase hex).
 */
export function toStrRepr(text: string): string {
  const useDoubleQuotes = text.includes("'") && !text.includes('"');
  const quote = useDoubleQuotes ? '"' : "'";
  const escaped = useDoubleQuotes ? ESCAPED_IN_DOUBLE_QUOTES : ESCAPED_IN_SINGLE_QUOTES;
  return `${quote}${text.replace(escaped, toEscape)}${quote}`;
}

function toEscape(character: string): string {
  const short = SHORT_ESCAPES[character];
  if (short !== undefined) {
    return short;
  }

  const codePoint = character.codePointAt(0) ?? 0;
  const hex = codePoint.toString(16);
  if (codePoint <= 0xff) {
    return `\\x${hex.padStart(2, "0")}`;
  }
  return codePoint <= 0xffff ? `\\u${hex.padStart(4, "0")}` : `\\U${hex.padStart(8, "0")}`;
}
