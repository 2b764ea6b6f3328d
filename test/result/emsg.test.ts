// Expected strings are CPython 3.11's repr() of the same bytes, and codejail's message format.
import { formatEmsg, toPythonBytesRepr } from "../../function/result/emsg.js";

const bytes = (...values: number[]) => Uint8Array.from(values);
const ascii = (text: string) => new TextEncoder().encode(text);

describe("toPythonBytesRepr", () => {
  it.each<[Uint8Array, string]>([
    [bytes(), "b''"],
    [ascii("abc ~"), "b'abc ~'"],
    [ascii("it's"), 'b"it\'s"'],
    [ascii('it\'s "q"'), "b'it\\'s \"q\"'"],
    [ascii('"'), "b'\"'"],
    [ascii("\\"), "b'\\\\'"],
    [bytes(0x09, 0x0a, 0x0d), "b'\\t\\n\\r'"],
    [bytes(0x00, 0x08, 0x0c, 0x1f), "b'\\x00\\x08\\x0c\\x1f'"],
    [bytes(0x7f, 0x80, 0xab, 0xff), "b'\\x7f\\x80\\xab\\xff'"],
    [ascii("é"), "b'\\xc3\\xa9'"],
    [
      bytes(0x00, 0x09, 0x0a, 0x0d, 0x5c, 0x27, 0x22, 0x7f, 0x80, 0xff, 0x20, 0x61, 0x7e),
      "b'\\x00\\t\\n\\r\\\\\\'\"\\x7f\\x80\\xff a~'",
    ],
  ])("writes %p", (value, repr) => {
    expect(toPythonBytesRepr(value)).toBe(repr);
  });

  it("writes every byte value", () => {
    const all = Uint8Array.from({ length: 256 }, (_, byte) => byte);

    expect(toPythonBytesRepr(all)).toBe(
      "b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f" +
        "\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e" +
        "\\x1f !\"#$%&\\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`" +
        "abcdefghijklmnopqrstuvwxyz{|}~\\x7f\\x80\\x81\\x82\\x83\\x84\\x85\\x86\\x87" +
        "\\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x8f\\x90\\x91\\x92\\x93\\x94\\x95\\x96" +
        "\\x97\\x98\\x99\\x9a\\x9b\\x9c\\x9d\\x9e\\x9f\\xa0\\xa1\\xa2\\xa3\\xa4\\xa5" +
        "\\xa6\\xa7\\xa8\\xa9\\xaa\\xab\\xac\\xad\\xae\\xaf\\xb0\\xb1\\xb2\\xb3\\xb4" +
        "\\xb5\\xb6\\xb7\\xb8\\xb9\\xba\\xbb\\xbc\\xbd\\xbe\\xbf\\xc0\\xc1\\xc2\\xc3" +
        "\\xc4\\xc5\\xc6\\xc7\\xc8\\xc9\\xca\\xcb\\xcc\\xcd\\xce\\xcf\\xd0\\xd1\\xd2" +
        "\\xd3\\xd4\\xd5\\xd6\\xd7\\xd8\\xd9\\xda\\xdb\\xdc\\xdd\\xde\\xdf\\xe0\\xe1" +
        "\\xe2\\xe3\\xe4\\xe5\\xe6\\xe7\\xe8\\xe9\\xea\\xeb\\xec\\xed\\xee\\xef\\xf0" +
        "\\xf1\\xf2\\xf3\\xf4\\xf5\\xf6\\xf7\\xf8\\xf9\\xfa\\xfb\\xfc\\xfd\\xfe\\xff'",
    );
  });
});

describe("formatEmsg", () => {
  it("matches codejail's timeout message", () => {
    expect(formatEmsg(bytes(), bytes(), -9)).toBe(
      "Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9",
    );
  });

  it("includes both outputs as bytes reprs", () => {
    const stderr = ascii(
      'Traceback (most recent call last):\n  File "jailed_code"\n' +
        "ZeroDivisionError: division by zero\n",
    );

    expect(formatEmsg(ascii("it's"), stderr, 1)).toBe(
      "Couldn't execute jailed code: stdout: b\"it's\", stderr: " +
        'b\'Traceback (most recent call last):\\n  File "jailed_code"\\n' +
        "ZeroDivisionError: division by zero\\n' with status code: 1",
    );
  });
});
