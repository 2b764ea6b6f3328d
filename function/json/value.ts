/**
 * The tree that Python's `json` module decodes a document into, in a form that JavaScript cannot
 * silently change. Ints are decimal text of any size and floats are doubles, as Python's are.
 * Objects are Maps, so that key order and repeated keys behave as in a Python dict.
 */

/** A decoded JSON value: None, bool, str, int, float, list or dict in Python terms. */
export type JsonValue = null | boolean | string | PyInt | PyFloat | JsonValue[] | JsonObject;

/**
 * A JSON object as a Python dict. A Map keeps insertion order, and `set` on an existing key keeps
 * its position and replaces the value, which is what a dict does with a repeated key.
 */
export type JsonObject = Map<string, JsonValue>;

const INT_TEXT = /^-?[0-9]+$/;

/** A Python int of any size, held as canonical decimal text (no leading zeros, no `-0`). */
export class PyInt {
  readonly digits: string;

  /** Accepts optionally signed decimal digits and throws TypeError on anything else. */
  constructor(text: string) {
    if (!INT_TEXT.test(text)) {
      throw new TypeError(`Invalid integer text: ${JSON.stringify(text.slice(0, 40))}`);
    }

    const isNegative = text.startsWith("-");
    const magnitude = (isNegative ? text.slice(1) : text).replace(/^0+(?=[0-9])/, "");
    this.digits = isNegative && magnitude !== "0" ? `-${magnitude}` : magnitude;
  }

  static fromBigInt(value: bigint): PyInt {
    return new PyInt(value.toString());
  }

  toBigInt(): bigint {
    return BigInt(this.digits);
  }
}

/** A Python float: an IEEE 754 double, including NaN, the infinities and -0.0. */
export class PyFloat {
  readonly value: number;

  constructor(value: number) {
    this.value = value;
  }
}
