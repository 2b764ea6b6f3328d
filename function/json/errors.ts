/**
 * The errors Python's `json.loads` raises, with messages identical to CPython 3.11's, so that they
 * can be returned to callers as the reference service returns them.
 */

/**
 * CPython's `json.decoder.JSONDecodeError`. `message` equals the Python exception's `str()`;
 * `pos`, `lineno` and `colno` count code points as Python's str indices do, not UTF-16 units.
 */
export class JsonSyntaxError extends Error {
  /** The bare reason, such as `Expecting value`. */
  readonly msg: string;
  readonly pos: number;
  readonly lineno: number;
  readonly colno: number;

  /** Takes `index` as a UTF-16 offset into `document` and converts it to Python's counting. */
  constructor(msg: string, document: string, index: number) {
    const { pos, lineno, colno } = toPythonPosition(document, index);
    super(`${msg}: line ${lineno} column ${colno} (char ${pos})`);
    this.name = "JsonSyntaxError";
    this.msg = msg;
    this.pos = pos;
    this.lineno = lineno;
    this.colno = colno;
  }
}

/**
 * The ValueError that CPython 3.11 and later raise for an int literal longer than
 * `sys.get_int_max_str_digits()`, which defaults to 4300 digits. It is not a JSONDecodeError, so
 * the reference service does not catch it and returns a 500 response.
 */
export class JsonIntLimitError extends Error {
  constructor(digitCount: number) {
    super(
      `Exceeds the limit (${MAX_INT_DIGITS} digits) for integer string conversion: value has ` +
        `${digitCount} digits; use sys.set_int_max_str_digits() to increase the limit`,
    );
    this.name = "JsonIntLimitError";
  }
}

/** CPython's default `sys.int_info.default_max_str_digits`. */
export const MAX_INT_DIGITS = 4300;

type PythonPosition = { pos: number; lineno: number; colno: number };

/**
 * Converts a UTF-16 offset to Python's position: a surrogate pair is one code point, and the
 * line and column are computed as JSONDecodeError does (`colno` is 1-based within the line).
 */
function toPythonPosition(document: string, index: number): PythonPosition {
  let codePoints = 0;
  let lineno = 1;
  let lastNewline = -1;
  for (let i = 0; i < index; i++) {
    const unit = document.charCodeAt(i);
    if (unit === 0x0a) {
      lineno += 1;
      lastNewline = codePoints;
    }
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < index) {
      const next = document.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1;
      }
    }
    codePoints += 1;
  }
  return { pos: codePoints, lineno, colno: codePoints - lastNewline };
}
