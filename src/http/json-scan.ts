/**
 * A second pass over JSON text that JSON.parse has already accepted, for what JSON.parse hides:
 * it keeps the last of two equal keys, rounds numbers to the nearest double, and says nothing of
 * nesting. Without this pass `{"count":1,"count":2}` or `{"count":2.00000000000000001}` would be
 * validated as something other than what the client wrote.
 *
 * One iterative pass, O(length of the text), so that neither hostile nesting nor a 1 MiB body of
 * tiny keys can overflow the stack or take long. Pure (no Fastify), so it is tested on its own.
 */

export type JsonScanProblem =
  | { kind: 'too-deep' }
  | { kind: 'duplicate-key'; key: string }
  | { kind: 'inexact-number'; token: string };

export interface JsonScan {
  /** The deepest nesting of objects and arrays (0 for a bare value); at most maxDepth + 1. */
  depth: number;
  problem: JsonScanProblem | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * A token of at most 15 digits and no exponent is always fine. With f of them after the point,
 * it is below 10^(15-f) in magnitude, where doubles are less than 10^-f / 4 apart: an integer
 * (such as `12.000`) is read exactly, and a non-integer, at least 10^-f from any integer, is not
 * rounded to one.
 */
const SHORT_DIGITS = 15;
/** The largest finite double, ~1.8e308, has 309 integer digits. */
const MAX_DOUBLE_DIGITS = 309;
/** Exponents are clamped here: far beyond any double, far within safe integer arithmetic. */
const EXPONENT_CLAMP = 1_000_000_000;

/**
 * Scans `text`, which must be valid JSON (JSON.parse accepted it); on anything else the result is
 * meaningless. When several problems are present the answer is, in this order: nesting deeper
 * than `maxDepth` (the scan stops there, as the body may be hostile), else the first duplicate
 * key in text order, else the first inexact number in text order.
 */
export function scanJson(text: string, maxDepth: number): JsonScan {
  // One entry per open container: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  // Whether the next string is an object key: true after `{` and after `,` inside an object.
  let expectKey = false;
  let depth = 0;
  let duplicate: string | undefined;
  let inexact: string | undefined;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      open.push(c === OPEN_BRACE ? new Set() : null);
      if (open.length > depth) {
        depth = open.length;
        if (depth > maxDepth) return { depth, problem: { kind: 'too-deep' } };
      }
      expectKey = c === OPEN_BRACE;
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      open.pop();
      expectKey = false;
      i++;
    } else if (c === COMMA) {
      expectKey = open.at(-1) instanceof Set;
      i++;
    } else if (c === QUOTE) {
      const end = closingQuote(text, i);
      const keys = open.at(-1);
      if (expectKey && keys instanceof Set && duplicate === undefined) {
        const key = decodeString(text, i, end);
        // One hash lookup, not two: the set grows unless the key was already there.
        const before = keys.size;
        if (keys.add(key).size === before) duplicate = key;
      }
      expectKey = false;
      i = end + 1;
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      const start = i;
      let digits = c === MINUS ? 0 : 1;
      let exponent = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d >= DIGIT_0 && d <= DIGIT_9) digits++;
        else if (d === LOWER_E || d === UPPER_E) exponent = true;
        else if (d !== DOT && d !== PLUS && d !== MINUS) break;
      }
      // Only long tokens and tokens with an exponent are sliced and checked, so that a body of
      // many ordinary numbers stays fast (see SHORT_DIGITS).
      if (inexact === undefined && (exponent || digits > SHORT_DIGITS)) {
        const token = text.slice(start, i);
        if (!isExactNumber(token)) inexact = token;
      }
    } else {
      // Whitespace, `:` and the letters of true, false and null.
      i++;
    }
  }
  if (duplicate !== undefined) return { depth, problem: { kind: 'duplicate-key', key: duplicate } };
  if (inexact !== undefined) return { depth, problem: { kind: 'inexact-number', token: inexact } };
  return { depth, problem: undefined };
}

/** The index of the quote that ends the string starting at `start`. */
function closingQuote(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    // A quote is escaped when an odd number of backslashes precede it. Each run of backslashes
    // is counted once, as it lies between this quote and the previous one: the pass stays linear.
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    if ((quote - 1 - before) % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** The value of the JSON string literal text[start..end] (both quotes included). */
function decodeString(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  const decoded: unknown = JSON.parse(text.slice(start, end + 1));
  return typeof decoded === 'string' ? decoded : raw;
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?)(\d+))?$/;

/**
 * Whether JSON.parse reads a JSON number token as exactly the value written, in the cases that
 * matter: a token read as ±Infinity never is; a token read as an integer must be exactly that
 * integer (`1.0`, `1e2` and `-0` are; `9007199254740993`, `1e-400` and `1.00000000000000000001`
 * are not). A token read as a non-integer is let through: schema validation judges it, and a
 * fraction can only ever fail an integer field.
 *
 * Exact: the written value is compared as a BigInt, after bounds that keep that BigInt small.
 */
export function isExactNumber(token: string): boolean {
  const value = Number(token);
  if (!Number.isFinite(value)) return false;
  if (!Number.isInteger(value)) return true;
  const match = NUMBER.exec(token);
  if (match === null) return false;
  const [, sign = '', whole = '', fraction = '', exponentSign = '', exponentDigits = '0'] = match;
  // The written value is significand × 10^exponent, the significand without leading or trailing
  // zeros (found by loops: a regex such as /0+$/ is quadratic on long runs of zeros).
  const digits = whole + fraction;
  let first = 0;
  while (first < digits.length && digits.charCodeAt(first) === DIGIT_0) first++;
  if (first === digits.length) return true; // zero, which every double reads exactly
  let last = digits.length;
  while (digits.charCodeAt(last - 1) === DIGIT_0) last--;
  const significand = digits.slice(first, last);
  const exponent =
    parseExponent(exponentSign, exponentDigits) - fraction.length + (digits.length - last);
  // The significand does not end in 0, so a negative exponent leaves a fraction: not the integer
  // it was read as. Past 309 digits it is beyond any finite double.
  if (exponent < 0 || significand.length + exponent > MAX_DOUBLE_DIGITS) return false;
  const written = BigInt(significand) * 10n ** BigInt(exponent);
  return (sign === '-' ? -written : written) === BigInt(value);
}

function parseExponent(sign: string, digits: string): number {
  let first = 0;
  while (first < digits.length - 1 && digits.charCodeAt(first) === DIGIT_0) first++;
  const significant = digits.slice(first);
  const magnitude = significant.length > 9 ? EXPONENT_CLAMP : Number(significant);
  return sign === '-' ? -magnitude : magnitude;
}
