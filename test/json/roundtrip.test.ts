// Expected values were printed by CPython 3.11's json.dumps(json.loads(text),
// separators=(",", ":"), ensure_ascii=...) and repr(json.loads(text)). In the ensureAscii=false
// column, U+2028, U+2029 and lone surrogates are escaped, which is this module's deliberate
// difference from Python.
import { parsePythonJson } from "../../function/json/parse.js";
import { toPythonRepr } from "../../function/json/repr.js";
import { serializePythonJson } from "../../function/json/serialize.js";

const CASES: ReadonlyArray<readonly [string, string, string, string]> = [
  // [input text, ensure_ascii=True output, ensure_ascii=False output, repr]
  [
    "12345678901234567890123456789",
    "12345678901234567890123456789",
    "12345678901234567890123456789",
    "12345678901234567890123456789",
  ],
  [
    "-12345678901234567890123456789",
    "-12345678901234567890123456789",
    "-12345678901234567890123456789",
    "-12345678901234567890123456789",
  ],
  ["-0", "0", "0", "0"],
  ["1.0", "1.0", "1.0", "1.0"],
  ["-0.0", "-0.0", "-0.0", "-0.0"],
  ["0.1", "0.1", "0.1", "0.1"],
  ["1e16", "1e+16", "1e+16", "1e+16"],
  ["1E16", "1e+16", "1e+16", "1e+16"],
  ["1e-5", "1e-05", "1e-05", "1e-05"],
  ["5e-324", "5e-324", "5e-324", "5e-324"],
  [
    "1.7976931348623157e308",
    "1.7976931348623157e+308",
    "1.7976931348623157e+308",
    "1.7976931348623157e+308",
  ],
  ["1e400", "Infinity", "Infinity", "inf"],
  ["-1e400", "-Infinity", "-Infinity", "-inf"],
  ["NaN", "NaN", "NaN", "nan"],
  ["Infinity", "Infinity", "Infinity", "inf"],
  ["-Infinity", "-Infinity", "-Infinity", "-inf"],
  ["0.0001", "0.0001", "0.0001", "0.0001"],
  ["1e15", "1000000000000000.0", "1000000000000000.0", "1000000000000000.0"],
  ["1.5e300", "1.5e+300", "1.5e+300", "1.5e+300"],
  ["123.456", "123.456", "123.456", "123.456"],
  ["1E+2", "100.0", "100.0", "100.0"],
  ["2.5e-7", "2.5e-07", "2.5e-07", "2.5e-07"],
  ["[1e16, 1e-05, 100.0]", "[1e+16,1e-05,100.0]", "[1e+16,1e-05,100.0]", "[1e+16, 1e-05, 100.0]"],
  [
    '{"a": [1, 2.0, {"b": null}], "c": true, "d": false}',
    '{"a":[1,2.0,{"b":null}],"c":true,"d":false}',
    '{"a":[1,2.0,{"b":null}],"c":true,"d":false}',
    "{'a': [1, 2.0, {'b': None}], 'c': True, 'd': False}",
  ],
  ['{"a": 1, "b": 2, "a": 3}', '{"a":3,"b":2}', '{"a":3,"b":2}', "{'a': 3, 'b': 2}"],
  ['{"a": {}, "b": []}', '{"a":{},"b":[]}', '{"a":{},"b":[]}', "{'a': {}, 'b': []}"],
  [" \t\n\r[ 1 , 2 ] \n", "[1,2]", "[1,2]", "[1, 2]"],
  ['"é中"', '"\\u00e9\\u4e2d"', '"é中"', "'é中'"],
  ['{"é": "ü"}', '{"\\u00e9":"\\u00fc"}', '{"é":"ü"}', "{'é': 'ü'}"],
  ['"😀"', '"\\ud83d\\ude00"', '"😀"', "'😀'"],
  ['"\\ud83d\\ude00"', '"\\ud83d\\ude00"', '"😀"', "'😀'"],
  ['"\\uD83D\\uDE00"', '"\\ud83d\\ude00"', '"😀"', "'😀'"],
  ['"\\ud83d"', '"\\ud83d"', '"\\ud83d"', "'\\ud83d'"],
  ['"\\ude00\\ud83d"', '"\\ude00\\ud83d"', '"\\ude00\\ud83d"', "'\\ude00\\ud83d'"],
  ['"\\ud83d\\u0041"', '"\\ud83dA"', '"\\ud83dA"', "'\\ud83dA'"],
  ['"\\ud83dx"', '"\\ud83dx"', '"\\ud83dx"', "'\\ud83dx'"],
  [
    '"\\u0000\\u001f\\b\\f\\n\\r\\t\\u007f\\u0080\\u00a0\\u00ad"',
    '"\\u0000\\u001f\\b\\f\\n\\r\\t\\u007f\\u0080\\u00a0\\u00ad"',
    '"\\u0000\\u001f\\b\\f\\n\\r\\t\u007f\u0080\u00a0\u00ad"',
    "'\\x00\\x1f\\x08\\x0c\\n\\r\\t\\x7f\\x80\\xa0\\xad'",
  ],
  ['"\\u2028\\u2029"', '"\\u2028\\u2029"', '"\\u2028\\u2029"', "'\\u2028\\u2029'"],
  ['"\\"\\\\\\/"', '"\\"\\\\/"', '"\\"\\\\/"', "'\"\\\\/'"],
  ['"it\'s"', '"it\'s"', '"it\'s"', '"it\'s"'],
  ['"\'\\""', '"\'\\""', '"\'\\""', "'\\'\"'"],
  ['"\\ufeff"', '"\\ufeff"', '"\ufeff"', "'\\ufeff'"],
];

describe("Python JSON round trip", () => {
  it.each(CASES)("%j", (text, asciiText, unicodeText, repr) => {
    const value = parsePythonJson(text);

    expect(serializePythonJson(value, { ensureAscii: true })).toBe(asciiText);
    expect(serializePythonJson(value, { ensureAscii: false })).toBe(unicodeText);
    expect(toPythonRepr(value)).toBe(repr);
  });

  it("reparses its own output to the same text", () => {
    for (const [text, asciiText, unicodeText] of CASES) {
      const value = parsePythonJson(text);
      const again = parsePythonJson(serializePythonJson(value, { ensureAscii: false }));

      expect(serializePythonJson(again, { ensureAscii: true })).toBe(asciiText);
      expect(serializePythonJson(again, { ensureAscii: false })).toBe(unicodeText);
    }
  });
});
