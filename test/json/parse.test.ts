// Expected messages are str() of the JSONDecodeError that CPython 3.11's json.loads raised for
// the same text.
import { JsonIntLimitError, JsonSyntaxError, parsePythonJson } from "../../function/json/parse.js";
import { PyFloat, PyInt } from "../../function/json/value.js";

function errorFrom(text: string): unknown {
  try {
    parsePythonJson(text);
  } catch (error) {
    return error;
  }
  throw new Error(`parsed without error: ${JSON.stringify(text)}`);
}

describe("parsePythonJson values", () => {
  it("keeps ints exact and apart from floats", () => {
    const value = parsePythonJson("[12345678901234567890123456789, 1, 1.0, -0]");

    expect(value).toEqual([
      new PyInt("12345678901234567890123456789"),
      new PyInt("1"),
      new PyFloat(1),
      new PyInt("0"),
    ]);
  });

  it("reads special floats", () => {
    const value = parsePythonJson("[NaN, Infinity, -Infinity, 1e400, -0.0, 1e-400]");
    const numbers = (value as PyFloat[]).map((each) => each.value);

    expect(numbers).toEqual([NaN, Infinity, -Infinity, Infinity, -0, 0]);
    expect(Object.is(numbers[4], -0)).toBe(true);
  });

  it("keeps first position and last value of a repeated key", () => {
    const value = parsePythonJson('{"b": 1, "a": 2, "b": 3}');

    expect(value).toEqual(
      new Map([
        ["b", new PyInt("3")],
        ["a", new PyInt("2")],
      ]),
    );
    expect([...(value as Map<string, unknown>).keys()]).toEqual(["b", "a"]);
  });

  it("joins escaped surrogate pairs and keeps lone surrogates", () => {
    expect(parsePythonJson('"\\ud83d\\ude00"')).toBe("😀");
    expect(parsePythonJson('"\\ud83d"')).toBe("\ud83d");
    expect(parsePythonJson('"\\ude00\\ud83d"')).toBe("\ude00\ud83d");
    expect(parsePythonJson('"\\ud83d\\u0041"')).toBe("\ud83dA");
  });

  it("accepts a key named __proto__ as data", () => {
    const value = parsePythonJson('{"__proto__": {"polluted": true}}') as Map<string, unknown>;

    expect(value.get("__proto__")).toEqual(new Map([["polluted", true]]));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("accepts an int of 4300 digits", () => {
    const digits = "9".repeat(4300);

    expect(parsePythonJson(`-${digits}`)).toEqual(new PyInt(`-${digits}`));
  });

  it("rejects an int of 4301 digits as Python does", () => {
    const error = errorFrom(`[${"1".repeat(4301)}]`);

    expect(error).toBeInstanceOf(JsonIntLimitError);
    expect((error as JsonIntLimitError).message).toBe(
      "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; " +
        "use sys.set_int_max_str_digits() to increase the limit",
    );
  });

  it("parses deep nesting without recursion", () => {
    const depth = 200_000;
    let value = parsePythonJson("[".repeat(depth) + "]".repeat(depth));
    let levels = 0;
    while (Array.isArray(value) && value.length > 0) {
      value = value[0];
      levels += 1;
    }

    expect(levels).toBe(depth - 1);
  });

  it("parses a long escaped string in linear time", () => {
    const text = `"${"ab\\n\\u00e9\\ud83d\\ude00".repeat(100_000)}"`;
    const started = performance.now();
    const value = parsePythonJson(text);

    expect(value).toBe("ab\né😀".repeat(100_000));
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

const ERRORS: ReadonlyArray<readonly [string, string]> = [
  ["", "Expecting value: line 1 column 1 (char 0)"],
  ["   ", "Expecting value: line 1 column 4 (char 3)"],
  ["x", "Expecting value: line 1 column 1 (char 0)"],
  ["[1,]", "Expecting value: line 1 column 4 (char 3)"],
  ['{"a":1,}', "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"],
  ["{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"],
  ["[", "Expecting value: line 1 column 2 (char 1)"],
  ["[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"],
  ['{"a" 1}', "Expecting ':' delimiter: line 1 column 6 (char 5)"],
  ['{"a":1 "b":2}', "Expecting ',' delimiter: line 1 column 8 (char 7)"],
  ["{1: 2}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"],
  ["{'a': 1}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"],
  ['"abc', "Unterminated string starting at: line 1 column 1 (char 0)"],
  ['"\\', "Unterminated string starting at: line 1 column 1 (char 0)"],
  ['"a\u0001b"', "Invalid control character at: line 1 column 3 (char 2)"],
  ['"\n"', "Invalid control character at: line 1 column 2 (char 1)"],
  ['"\\x"', "Invalid \\escape: line 1 column 2 (char 1)"],
  ['"\\u12"', "Invalid \\uXXXX escape: line 1 column 3 (char 2)"],
  ['"\\u12x4"', "Invalid \\uXXXX escape: line 1 column 3 (char 2)"],
  ['"\\u1234', "Invalid \\uXXXX escape: line 1 column 3 (char 2)"],
  ['"\\ud83d\\u12"', "Invalid \\uXXXX escape: line 1 column 9 (char 8)"],
  ['"\\ud83d\\uzzzz"', "Invalid \\uXXXX escape: line 1 column 9 (char 8)"],
  ["1.", "Extra data: line 1 column 2 (char 1)"],
  ["1 2", "Extra data: line 1 column 3 (char 2)"],
  ["[1] x", "Extra data: line 1 column 5 (char 4)"],
  ["01", "Extra data: line 1 column 2 (char 1)"],
  ["nul", "Expecting value: line 1 column 1 (char 0)"],
  ["tru", "Expecting value: line 1 column 1 (char 0)"],
  ["-", "Expecting value: line 1 column 1 (char 0)"],
  ["-Infinit", "Expecting value: line 1 column 1 (char 0)"],
  [".5", "Expecting value: line 1 column 1 (char 0)"],
  ["+1", "Expecting value: line 1 column 1 (char 0)"],
  ["\ufeff{}", "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"],
  ['"😀" x', "Extra data: line 1 column 5 (char 4)"],
  ['["😀", x]', "Expecting value: line 1 column 7 (char 6)"],
  ['"😀\\q"', "Invalid \\escape: line 1 column 3 (char 2)"],
  ['"😀😀\u0000"', "Invalid control character at: line 1 column 4 (char 3)"],
  ['{"😀":}', "Expecting value: line 1 column 6 (char 5)"],
  ['{\n  "a": [1,\n  x]}', "Expecting value: line 3 column 3 (char 15)"],
  ['[\n\n"😀",\n  "a\\q"]', "Invalid \\escape: line 4 column 5 (char 12)"],
];

describe("parsePythonJson errors", () => {
  it.each(ERRORS)("%j", (text, message) => {
    const error = errorFrom(text);

    expect(error).toBeInstanceOf(JsonSyntaxError);
    expect((error as JsonSyntaxError).message).toBe(message);
  });

  it("exposes Python's position fields", () => {
    const error = errorFrom('[\n"😀", x]');

    expect(error).toMatchObject({ msg: "Expecting value", pos: 7, lineno: 2, colno: 6 });
  });
});
