/**
 * Python's `float.__repr__` for doubles. Python and JavaScript both print the shortest digits
 * that read back as the same double, so the digits come from JavaScript and only the layout is
 * Python's. A decimal exponent below -4 or from 16 up gives exponent notation with a sign and at
 * least two digits (`1e+16`, `1e-05`). Other values get positional notation with at least one
 * fractional digit (`1.0`, `0.0001`, `1000000000000000.0`).
 */

/** Formats a finite or non-finite double as Python's repr: `nan`, `inf` and `-inf` included. */
export function toPythonFloatRepr(value: number): string {
  if (Number.isNaN(value)) {
    return "nan";
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? "inf" : "-inf";
  }
  if (value === 0) {
    return Object.is(value, -0) ? "-0.0" : "0.0";
  }

  const sign = value < 0 ? "-" : "";
  const [mantissa, exponentText] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exponentText);

  if (exponent < -4 || exponent >= 16) {
    const significand = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const exponentSign = exponent < 0 ? "-" : "+";
    const exponentDigits = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${significand}e${exponentSign}${exponentDigits}`;
  }

  if (exponent < 0) {
    return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  }
  const integerPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  const fractionPart = digits.slice(exponent + 1) || "0";
  return `${sign}${integerPart}.${fractionPart}`;
}
