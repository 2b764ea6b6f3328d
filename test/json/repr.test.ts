// Expected strings are CPython 3.11's repr() of the same Python values.
import { parsePythonJson } from "../../function/json/parse.js";
import { toPythonRepr, toStrRepr } from "../../function/json/repr.js";
import { PyFloat, PyInt, type JsonValue } from "../../function/json/value.js";

describe("toPythonRepr", () => {
  it.each<[JsonValue, string]>([
    [null, "None"],
    [true, "True"],
    [false, "False"],
    [new PyInt("-42"), "-42"],
    [new PyFloat(1), "1.0"],
    [new PyFloat(NaN), "nan"],
    [new PyFloat(-Infinity), "-inf"],
    [[], "[]"],
    [new Map(), "{}"],
    [[[]], "[[]]"],
    [["it's", "x"], "[\"it's\", 'x']"],
  ])("writes %p", (value, repr) => {
    expect(toPythonRepr(value)).toBe(repr);
  });

  it("writes dicts and lists with Python's separators", () => {
    const value = parsePythonJson('{"a": {"b": [null, true, 1.5, 2]}, "c": "d"}');

    expect(toPythonRepr(value)).toBe("{'a': {'b': [None, True, 1.5, 2]}, 'c': 'd'}");
  });

  it("writes deep nesting without recursion", () => {
    const depth = 200_000;

    expect(toPythonRepr(parsePythonJson("[".repeat(depth) + "]".repeat(depth)))).toBe(
      "[".repeat(depth) + "]".repeat(depth),
    );
  });
});

describe("toStrRepr", () => {
  it.each([
    ["", "''"],
    ["abc", "'abc'"],
    ["it's", '"it\'s"'],
    ["a'b\"c", "'a\\'b\"c'"],
    ['say "hi"', "'say \"hi\"'"],
    ["\\", "'\\\\'"],
    ["\t\n\r", "'\\t\\n\\r'"],
    ["\u0000\u0008\u000c\u001f", "'\\x00\\x08\\x0c\\x1f'"],
    ["\u007f\u009f\u00a0\u00ad", "'\\x7f\\x9f\\xa0\\xad'"],
    ["é\u0301中😀", "'é\u0301中😀'"],
    ["\u0378\ue000\u200b\u2028\u3000\ufeff", "'\\u0378\\ue000\\u200b\\u2028\\u3000\\ufeff'"],
    ["\u{e0001}", "'\\U000e0001'"],
    ["\ud83d", "'\\ud83d'"],
    ["\ude00\ud83d", "'\\ude00\\ud83d'"],
    [" x ", "' x '"],
  ])("writes %j", (text, repr) => {
    expect(toStrRepr(text)).toBe(repr);
  });
});
