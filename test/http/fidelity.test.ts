/**
 * JSON fidelity and safe_exec semantics, compared byte for byte with the response text: values
 * must travel exactly as Python's json module carries them.
 */
import { execText, startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.stop();
});

describe("globals fidelity", () => {
  it.each([
    [
      "big integers",
      '{"n": 123456789012345678901234567890}',
      "m = n * 2",
      '{"n":123456789012345678901234567890,"m":246913578024691357802469135780}',
    ],
    ["floats that look whole", '{"f": 1.0}', "g = f * 2\nh = 10 / 4", '{"f":1.0,"g":2.0,"h":2.5}'],
    [
      "float repr",
      "{}",
      "a = 1e16\nb = 1e-5\nc = 0.1 + 0.2\nd = -0.0",
      '{"a":1e+16,"b":1e-05,"c":0.30000000000000004,"d":-0.0}',
    ],
    [
      "NaN and infinities",
      '{"a": NaN, "b": Infinity, "c": -Infinity}',
      "d = float('nan')",
      '{"a":NaN,"b":Infinity,"c":-Infinity,"d":NaN}',
    ],
    [
      "non-ASCII text",
      '{"s": "h\\u00e9llo \\u2603 \\ud83d\\ude00"}',
      "t = s.upper()",
      '{"s":"héllo ☃ 😀","t":"HÉLLO ☃ 😀"}',
    ],
    ["lone surrogates", '{"s": "\\ud800"}', "t = s + 'x'", '{"s":"\\ud800","t":"\\ud800x"}'],
    ["line separators", "{}", "s = '\\u2028'", '{"s":"\\u2028"}'],
    ["control characters", "{}", "s = '\\x00\\x1f\\n\\t\\\"'", '{"s":"\\u0000\\u001f\\n\\t\\""}'],
    [
      "bytes decoded as UTF-8",
      "{}",
      "a = b'abc'\nb = b'\\xff'\nc = [b'x', (b'y',)]",
      '{"a":"abc","c":["x",["y"]]}',
    ],
    ["tuples as lists", "{}", "t = (1, (2, 3))", '{"t":[1,[2,3]]}'],
    [
      "dict keys as strings",
      "{}",
      "d = {1: 'a', True: 't', 2.5: 'f', None: 'n'}",
      '{"d":{"1":"t","2.5":"f","null":"n"}}',
    ],
    ["deleted globals kept from input", '{"x": 1, "y": 2}', "del x", '{"x":1,"y":2}'],
    [
      "unserialisable values keep the input",
      '{"x": 1}',
      "x = object()\ny = {1, 2}\nz = [object()]",
      '{"x":1}',
    ],
    [
      "modules and functions dropped",
      "{}",
      "import os\ndef f():\n    pass\nclass C:\n    pass",
      "{}",
    ],
    ["duplicate input keys", '{"x": 1, "x": 2}', "y = x", '{"x":2,"y":2}'],
    ["key order of update", '{"b": 1, "a": 2}', "c = 3\nb = 4", '{"b":4,"a":2,"c":3}'],
    ["booleans and null", '{"t": true, "n": null}', "f = not t", '{"t":true,"n":null,"f":false}'],
  ])("keeps %s", async (_name, globalsJson, code, expected) => {
    const response = await execText(server.url, code, globalsJson);

    expect(response.status).toBe(200);
    expect(response.text).toBe(`{"globals_dict":${expected}}`);
  });

  it("never returns __builtins__", async () => {
    const response = await execText(server.url, "x = len(__builtins__) > 0");

    expect(response.text).toBe('{"globals_dict":{"x":true}}');
  });
});

describe("output and exit handling", () => {
  it.each([
    ["print", "print('hello')\nx = 1"],
    ["sys.stdout", "import sys\nsys.stdout.write('hi')\nx = 1"],
    ["garbage on fd 1", "import os\nos.write(1, b'\\x00garbage{')\nx = 1"],
  ])("discards stdout from %s", async (_name, code) => {
    const response = await execText(server.url, code);

    expect(response.text).toBe('{"globals_dict":{"x":1}}');
  });

  it.each([
    ["sys.exit(2)", "import sys\nsys.exit(2)", "stdout: b'', stderr: b'' with status code: 2"],
    ["os._exit(3)", "import os\nos._exit(3)", "stdout: b'', stderr: b'' with status code: 3"],
    [
      "an early clean exit",
      "import os\nos._exit(0)",
      "stdout: b'', stderr: b'' with status code: 0",
    ],
    [
      "sys.exit with a message",
      "import sys\nsys.exit('bye')",
      "stdout: b'', stderr: b'bye\\n' with status code: 1",
    ],
    [
      "raw fd 1 output",
      'import os\nos.write(1, b"it\'s\\xff")\nraise SystemExit(4)',
      "stdout: b\"it's\\xff\", stderr: b'' with status code: 4",
    ],
    [
      "non-ASCII stderr",
      "import sys\nsys.stderr.write('\\u00e9')\nsys.exit(1)",
      "stdout: b'', stderr: b'\\xc3\\xa9' with status code: 1",
    ],
    [
      "a forged result channel",
      "import os\nos.write(3, b'garbage\\n')\nx = 1",
      "stdout: b'', stderr: b'' with status code: 0",
    ],
  ])("reports %s in emsg", async (_name, code, tail) => {
    const response = await execText(server.url, code, '{"x": 0}');
    const body = JSON.parse(response.text);

    expect(response.status).toBe(200);
    expect(body.globals_dict).toEqual({ x: 0 });
    expect(body.emsg).toBe(`Couldn't execute jailed code: ${tail}`);
  });

  it("shows only the code's frames in a traceback", async () => {
    const code = "def f():\n    return 1 / 0\n\nf()";
    const body = JSON.parse((await execText(server.url, code)).text);

    expect(body.emsg).toBe(
      "Couldn't execute jailed code: stdout: b'', stderr: b'Traceback (most recent call last):\\n" +
        '  File "jailed_code", line 4, in <module>\\n    f()\\n' +
        '  File "jailed_code", line 2, in f\\n    return 1 / 0\\n           ~~^~~\\n' +
        "ZeroDivisionError: division by zero\\n' with status code: 1",
    );
  });
});
