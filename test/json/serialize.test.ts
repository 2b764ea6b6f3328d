// Expected texts are CPython 3.11's json.dumps(value, separators=(",", ":"), ensure_ascii=...)
// for the same Python values, except where a test names a deliberate difference.
import { parsePythonJson } from "../../function/json/parse.js";
import { serializePythonJson } from "../../function/json/serialize.js";
import { PyFloat, PyInt, type JsonValue } from "../../function/json/value.js";

const ascii = (value: JsonValue) => serializePythonJson(value, { ensureAscii: true });
const unicode = (value: JsonValue) => serializePythonJson(value, { ensureAscii: false });

describe("serializePythonJson", () => {
  it.each<[JsonValue, string]>([
    [null, "null"],
    [true, "true"],
    [false, "false"],
    [new PyInt("-12345678901234567890"), "-12345678901234567890"],
    [PyInt.fromBigInt(2n ** 64n), "18446744073709551616"],
    [new PyFloat(1), "1.0"],
    [new PyFloat(-0), "-0.0"],
    [new PyFloat(1e16), "1e+16"],
    [new PyFloat(NaN), "NaN"],
    [new PyFloat(Infinity), "Infinity"],
    [new PyFloat(-Infinity), "-Infinity"],
    [[], "[]"],
    [new Map(), "{}"],
    [[new Map([["a", [null, new PyInt("1")]]]), "x"], '[{"a":[null,1]},"x"]'],
  ])("writes %p", (value, text) => {
    expect(ascii(value)).toBe(text);
    expect(unicode(value)).toBe(text);
  });

  it("escapes strings as Python does", () => {
    const text = '"\\/\b\f\n\r\t\u0000\u001f\u007f';

    expect(ascii(text)).toBe('"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u007f"');
    expect(unicode(text)).toBe('"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\u007f"');
  });

  it("escapes non-ASCII only with ensureAscii", () => {
    expect(ascii("é中😀")).toBe('"\\u00e9\\u4e2d\\ud83d\\ude00"');
    expect(unicode("é中😀")).toBe('"é中😀"');
  });

  it("escapes keys like values", () => {
    const value = new Map<string, JsonValue>([['k"é', new PyInt("1")]]);

    expect(ascii(value)).toBe('{"k\\"\\u00e9":1}');
    expect(unicode(value)).toBe('{"k\\"é":1}');
  });

  // Deliberate differences from Python with ensure_ascii=False: Django REST framework escapes
  // U+2028 and U+2029, and Python would emit lone surrogates that UTF-8 cannot encode.
  it("escapes line separators and lone surrogates without ensureAscii", () => {
    expect(unicode("a\u2028b\u2029c")).toBe('"a\\u2028b\\u2029c"');
    expect(unicode("\ud83d")).toBe('"\\ud83d"');
    expect(unicode("\ude00x\ud83d")).toBe('"\\ude00x\\ud83d"');
    expect(unicode("\ud83d\ud83d\ude00")).toBe('"\\ud83d😀"');
  });

  it("writes repeated-key objects in first-key order", () => {
    expect(ascii(parsePythonJson('{"a": 1, "b": 2, "a": 3}'))).toBe('{"a":3,"b":2}');
  });

  it("writes deep nesting without recursion", () => {
    const depth = 200_000;
    let value: JsonValue = [];
    for (let i = 1; i < depth; i++) {
      value = [value];
    }

    expect(ascii(value)).toBe("[".repeat(depth) + "]".repeat(depth));
  });
});
