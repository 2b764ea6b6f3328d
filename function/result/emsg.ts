/**
 * The `emsg` that codejail's safe_exec reports when the jailed code fails, built from the
 * captured output exactly as codejail formats it with Python's `repr()` of bytes.
 */

// The text of each byte value inside a bytes repr, for each choice of quote.
const SINGLE_QUOTED = buildByteTable("'");
const DOUBLE_QUOTED = buildByteTable('"');

/** Returns codejail's failure message for the given output and exit status. */
export function formatEmsg(stdout: Uint8Array, stderr: Uint8Array, status: number): string {
  return (
    `Couldn't execute jailed code: stdout: ${toPythonBytesRepr(stdout)}, ` +
    `stderr: ${toPythonBytesRepr(stderr)} with status code: ${status}`
  );
}

/**
 * Returns Python's `repr(bytes)`, `b'...'`, in double quotes only when the bytes contain `'` and
 * no `"`. The quote and backslash are escaped, tab, newline and carriage return become `\t` `\n`
 * `\r`, and other bytes outside 0x20-0x7e become lowercase `\xNN`.
 */
export function toPythonBytesRepr(bytes: Uint8Array): string {
  const useDoubleQuotes = bytes.includes(0x27) && !bytes.includes(0x22);
  const table = useDoubleQuotes ? DOUBLE_QUOTED : SINGLE_QUOTED;
  const quote = useDoubleQuotes ? '"' : "'";
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    parts[i] = table[bytes[i]];
  }
  return `b${quote}${parts.join("")}${quote}`;
}

function buildByteTable(quote: string): readonly string[] {
  return Array.from({ length: 256 }, (_, byte) => {
    const character = String.fromCharCode(byte);
    if (character === quote || character === "\\") {
      return `\\${character}`;
    }
    if (character === "\t") {
      return "\\t";
    }
    if (character === "\n") {
      return "\\n";
    }
    if (character === "\r") {
      return "\\r";
    }
    if (byte < 0x20 || byte >= 0x7f) {
      return `\\x${byte.toString(16).padStart(2, "0")}`;
    }
    return character;
  });
}
