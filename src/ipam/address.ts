/**
 * Strict IP address and CIDR parsing/formatting for the IPAM.
 *
 * The parser is deliberately unforgiving: every address the control plane
 * stores or compares has exactly one accepted meaning and one canonical text.
 * Lenient parsers (inet_aton-style "10.1", octal "010", trailing whitespace,
 * zone ids) have caused real allocators to hand out or match the wrong address,
 * so anything outside the grammar below is rejected with an AddressError.
 *
 * IPv4-mapped IPv6 addresses (::ffff:0:0/96) are folded into IPv4 so the same
 * address can never be stored twice under two families.
 */

export type Family = 4 | 6;

export type Address = { family: Family; value: bigint };

export type Cidr = { family: Family; network: bigint; prefixLength: number };

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

// Longest valid text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255". Checking the
// length up front bounds the work done on hostile input before any splitting.
const MAX_ADDRESS_TEXT = 45;
const MAX_CIDR_TEXT = MAX_ADDRESS_TEXT + 4;

/** ::ffff:0:0, where the IPv4-mapped addresses (::ffff:a.b.c.d) start. */
export const IPV4_MAPPED_PREFIX = 0xffffn << 32n;
/** ::ffff:0:0/96: IPv4 in IPv6 clothing; eipd treats every address in it as IPv4. */
export const IPV4_MAPPED_CIDR: Cidr = { family: 6, network: IPV4_MAPPED_PREFIX, prefixLength: 96 };
const IPV4_MAPPED_MASK = ((1n << 96n) - 1n) << 32n;
const U32 = (1n << 32n) - 1n;

export function addressBits(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** Quote user input for messages; truncated so a huge request body can't bloat logs. */
function quote(text: string): string {
  const shown = text.length > 64 ? `${text.slice(0, 64)}…` : text;
  return JSON.stringify(shown);
}

function addressFailure(text: string, reason: string): AddressError {
  return new AddressError(`${quote(text)} is not a valid IP address: ${reason}`);
}

function cidrFailure(text: string, reason: string): AddressError {
  return new AddressError(`${quote(text)} is not a valid CIDR: ${reason}`);
}

type Fail = (reason: string) => AddressError;

// ---------------------------------------------------------------------------
// Parsing

const DECIMAL = /^[0-9]+$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const HEX_RUN = /^[0-9a-fA-F]+$/;

/** Parse exactly four strict decimal octets; shared by plain IPv4 and embedded IPv6 tails. */
function parseIpv4(text: string, fail: Fail): bigint {
  const parts = text.split('.');
  if (parts.length !== 4) {
    throw fail(`expected 4 dot-separated octets, got ${parts.length}`);
  }
  let value = 0n;
  for (const part of parts) {
    if (part === '') throw fail('empty octet');
    // [0-9] rather than \d or Number(): only ASCII digits, no signs, no "0x", no exponents.
    if (!DECIMAL.test(part)) throw fail(`octet ${JSON.stringify(part)} is not a decimal number`);
    // Leading zeros are rejected because inet_aton reads them as octal.
    if (part.length > 1 && part.startsWith('0')) {
      throw fail(`octet ${JSON.stringify(part)} has a leading zero`);
    }
    // Length check first so a 20-digit octet can't lose precision in Number().
    if (part.length > 3 || Number(part) > 255) {
      throw fail(`octet ${JSON.stringify(part)} is out of range 0-255`);
    }
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/**
 * Parse one side of a "::" (or the whole address when there is none) into
 * 16-bit groups. An embedded dotted IPv4 address is allowed only as the very
 * last piece of the address, where it stands for two groups.
 */
function parseGroups(part: string, isEnd: boolean, fail: Fail): number[] {
  if (part === '') return [];
  const groups: number[] = [];
  const pieces = part.split(':');
  for (const [i, piece] of pieces.entries()) {
    if (piece === '') throw fail('empty group between colons');
    if (piece.includes('.')) {
      if (!isEnd || i !== pieces.length - 1) {
        throw fail('an embedded IPv4 address may only appear at the end');
      }
      const v4 = parseIpv4(piece, (reason) => fail(`embedded IPv4 address: ${reason}`));
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      continue;
    }
    if (!HEX_GROUP.test(piece)) {
      throw fail(
        HEX_RUN.test(piece)
          ? `group ${JSON.stringify(piece)} has more than 4 hex digits`
          : `group ${JSON.stringify(piece)} is not hexadecimal`,
      );
    }
    groups.push(Number.parseInt(piece, 16));
  }
  return groups;
}

function parseIpv6(text: string, fail: Fail): bigint {
  if (text.includes(':::')) throw fail('":::" is not allowed');
  // A lone colon at either end is never valid; only "::" may touch an end.
  if (text.startsWith(':') && !text.startsWith('::')) throw fail('starts with a single ":"');
  if (text.endsWith(':') && !text.endsWith('::')) throw fail('ends with a single ":"');

  const halves = text.split('::');
  let groups: number[];
  if (halves.length === 1) {
    groups = parseGroups(text, true, fail);
    if (groups.length !== 8) throw fail(`expected 8 groups, got ${groups.length}`);
  } else if (halves.length === 2) {
    const head = parseGroups(halves[0] ?? '', false, fail);
    const tail = parseGroups(halves[1] ?? '', true, fail);
    const present = head.length + tail.length;
    // "::" must replace at least one group (RFC 4291 allows exactly one).
    if (present > 7)
      throw fail(`"::" must stand for at least one group, but ${present} are present`);
    groups = [...head, ...new Array<number>(8 - present).fill(0), ...tail];
  } else {
    throw fail('"::" may appear at most once');
  }

  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

type RawAddress = { textFamily: Family; value: bigint };

/** Parse keeping the textual family, so parseCidr can adjust mapped prefix lengths. */
function parseRaw(text: string, fail: Fail): RawAddress {
  if (text === '') throw fail('empty string');
  if (text.length > MAX_ADDRESS_TEXT) throw fail(`longer than ${MAX_ADDRESS_TEXT} characters`);
  // Specific diagnoses for the common mistakes, before the generic character check.
  if (/\s/.test(text)) throw fail('contains whitespace');
  // Non-ASCII digits ("１", "٤") look like addresses to humans but must never parse.
  const nonAscii = /[^\x21-\x7e]/.exec(text);
  if (nonAscii)
    throw fail(`contains non-ASCII or control character ${JSON.stringify(nonAscii[0])}`);
  if (text.includes('%')) throw fail('zone identifiers ("%...") are not supported');
  if (text.includes('[') || text.includes(']')) throw fail('brackets are not allowed');
  if (text.includes('/')) throw fail('prefix lengths are not allowed here (use CIDR parsing)');

  // Without a colon it can only be IPv4, whose octet checks give the precise reason.
  if (!text.includes(':')) return { textFamily: 4, value: parseIpv4(text, fail) };
  const bad = /[^0-9a-fA-F:.]/.exec(text);
  if (bad) throw fail(`unexpected character ${JSON.stringify(bad[0])}`);
  return { textFamily: 6, value: parseIpv6(text, fail) };
}

function isIpv4Mapped(value: bigint): boolean {
  return (value & IPV4_MAPPED_MASK) === IPV4_MAPPED_PREFIX;
}

/** Fold IPv4-mapped IPv6 values into IPv4 so each address has a single representation. */
function normalize(raw: RawAddress): Address {
  if (raw.textFamily === 6 && isIpv4Mapped(raw.value)) return { family: 4, value: raw.value & U32 };
  return { family: raw.textFamily, value: raw.value };
}

export function parseAddress(text: string): Address {
  return normalize(parseRaw(text, (reason) => addressFailure(text, reason)));
}

// ---------------------------------------------------------------------------
// Formatting

function checkAddress(a: Address): void {
  if ((a.family !== 4 && a.family !== 6) || typeof a.value !== 'bigint') {
    throw new AddressError(`invalid address object (family ${String(a.family)})`);
  }
  if (a.value < 0n || a.value >> BigInt(addressBits(a.family)) !== 0n) {
    throw new AddressError(`value ${a.value} is out of range for an IPv${a.family} address`);
  }
}

function ipv6Groups(value: bigint): number[] {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  return groups;
}

/** RFC 5952 §4.2: the first longest run of two or more zero groups, or null. */
function longestZeroRun(isZero: readonly boolean[]): { start: number; end: number } | null {
  let best: { start: number; end: number } | null = null;
  let i = 0;
  while (i < isZero.length) {
    if (!isZero[i]) {
      i++;
      continue;
    }
    const start = i;
    while (i < isZero.length && isZero[i]) i++;
    // Strictly greater keeps the first run on a tie.
    if (i - start >= 2 && (best === null || i - start > best.end - best.start)) {
      best = { start, end: i };
    }
  }
  return best;
}

function formatIpv6(value: bigint): string {
  const groups = ipv6Groups(value);
  const hex = groups.map((g) => g.toString(16));
  const run = longestZeroRun(groups.map((g) => g === 0));
  if (run === null) return hex.join(':');
  return `${hex.slice(0, run.start).join(':')}::${hex.slice(run.end).join(':')}`;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
}

/**
 * Canonical text. IPv6 follows RFC 5952 without a dotted-quad tail; a family-6
 * value inside ::ffff:0:0/96 is printed in hex and parses back as IPv4.
 */
export function formatAddress(a: Address): string {
  checkAddress(a);
  return a.family === 4 ? formatIpv4(a.value) : formatIpv6(a.value);
}

export function canonicalizeAddress(text: string): string {
  return formatAddress(parseAddress(text));
}

/** Total order: all IPv4 before all IPv6, then numerically. */
export function compareAddresses(a: Address, b: Address): -1 | 0 | 1 {
  if (a.family !== b.family) return a.family < b.family ? -1 : 1;
  if (a.value === b.value) return 0;
  return a.value < b.value ? -1 : 1;
}

// ---------------------------------------------------------------------------
// CIDR

const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

function hostMask(family: Family, prefixLength: number): bigint {
  return (1n << BigInt(addressBits(family) - prefixLength)) - 1n;
}

function checkCidr(c: Cidr): void {
  checkAddress({ family: c.family, value: c.network });
  if (!Number.isInteger(c.prefixLength) || c.prefixLength < 0) {
    throw new AddressError(`invalid prefix length ${c.prefixLength}`);
  }
  if (c.prefixLength > addressBits(c.family)) {
    throw new AddressError(`prefix length ${c.prefixLength} is too long for IPv${c.family}`);
  }
  if ((c.network & hostMask(c.family, c.prefixLength)) !== 0n) {
    throw new AddressError(
      `network ${formatAddress({ family: c.family, value: c.network })} has host bits set for /${c.prefixLength}`,
    );
  }
}

export function parseCidr(text: string): Cidr {
  const fail = (reason: string) => cidrFailure(text, reason);
  if (text.length > MAX_CIDR_TEXT) throw fail(`longer than ${MAX_CIDR_TEXT} characters`);
  const slash = text.indexOf('/');
  if (slash < 0) throw fail('missing "/prefix-length"');
  const addressText = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  if (lengthText.includes('/')) throw fail('more than one "/"');
  if (lengthText === '') throw fail('empty prefix length');
  if (!DECIMAL.test(lengthText))
    throw fail(`prefix length ${JSON.stringify(lengthText)} is not a decimal number`);
  if (!PREFIX_LENGTH.test(lengthText)) {
    throw fail(`prefix length ${JSON.stringify(lengthText)} has a leading zero or is too long`);
  }

  const raw = parseRaw(addressText, (reason) => fail(`address: ${reason}`));
  const textLength = Number(lengthText);
  const textBits = addressBits(raw.textFamily);
  if (textLength > textBits) throw fail(`prefix length ${textLength} exceeds ${textBits}`);

  let family: Family = raw.textFamily;
  let network = raw.value;
  let prefixLength = textLength;
  if (raw.textFamily === 6 && isIpv4Mapped(raw.value)) {
    // The mapped block is the IPv4 space; a shorter prefix would cover non-mapped
    // IPv6 addresses too and has no single-family meaning.
    if (textLength < 96) {
      throw fail(`an IPv4-mapped prefix must be /96 or longer to denote IPv4 space`);
    }
    family = 4;
    network = raw.value & U32;
    prefixLength = textLength - 96;
  }

  const host = network & hostMask(family, prefixLength);
  if (host !== 0n) {
    const suggestion = formatCidr({ family, network: network - host, prefixLength });
    throw fail(`host bits are set; did you mean ${suggestion}?`);
  }
  return { family, network, prefixLength };
}

export function formatCidr(c: Cidr): string {
  checkCidr(c);
  return `${formatAddress({ family: c.family, value: c.network })}/${c.prefixLength}`;
}

export function cidrSize(c: Cidr): bigint {
  checkCidr(c);
  return 1n << BigInt(addressBits(c.family) - c.prefixLength);
}

export function cidrLast(c: Cidr): bigint {
  return c.network + cidrSize(c) - 1n;
}

export function cidrContains(c: Cidr, a: Address): boolean {
  checkAddress(a);
  return c.family === a.family && a.value >= c.network && a.value <= cidrLast(c);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) {
    checkCidr(a);
    checkCidr(b);
    return false;
  }
  return a.network <= cidrLast(b) && b.network <= cidrLast(a);
}

/**
 * Addresses an allocator may hand out. IPv4 reserves network and broadcast
 * except on /31 (RFC 3021) and /32. IPv6 has no broadcast but reserves the
 * subnet-router anycast address (RFC 4291 §2.6.1), except on /127 (RFC 6164)
 * and /128.
 */
export function usableBounds(c: Cidr): { first: bigint; last: bigint } | null {
  const last = cidrLast(c);
  const bits = addressBits(c.family);
  let first = c.network;
  let usableLast = last;
  if (c.prefixLength < bits - 1) {
    first += 1n;
    if (c.family === 4) usableLast -= 1n;
  }
  return first <= usableLast ? { first, last: usableLast } : null;
}

// ---------------------------------------------------------------------------
// Shortest canonical text

/**
 * The value range the prefix allows for each fixed-width field (octet or
 * group), most significant first. Fields are independent: every combination of
 * in-range field values is an address inside the prefix.
 */
function fieldRanges(c: Cidr, fieldBits: number): { min: number; max: number }[] {
  const bits = addressBits(c.family);
  const ranges: { min: number; max: number }[] = [];
  for (let start = 0; start < bits; start += fieldBits) {
    const fixed = Math.min(Math.max(c.prefixLength - start, 0), fieldBits);
    const min = Number(
      (c.network >> BigInt(bits - start - fieldBits)) & ((1n << BigInt(fieldBits)) - 1n),
    );
    ranges.push({ min, max: min | ((1 << (fieldBits - fixed)) - 1) });
  }
  return ranges;
}

function hexDigits(v: number): number {
  if (v < 0x10) return 1;
  if (v < 0x100) return 2;
  return v < 0x1000 ? 3 : 4;
}

/** Length of RFC 5952 text given which groups are zero and each group's digit count. */
function canonicalLength(isZero: readonly boolean[], digits: readonly number[]): number {
  const run = longestZeroRun(isZero);
  const sum = (from: number, to: number) => {
    let n = 0;
    for (let i = from; i < to; i++) n += digits[i] ?? 0;
    return n;
  };
  if (run === null) return sum(0, 8) + 7;
  const left = run.start;
  const right = 8 - run.end;
  return sum(0, run.start) + Math.max(left - 1, 0) + 2 + sum(run.end, 8) + Math.max(right - 1, 0);
}

/**
 * The length of RFC 5952 text depends only on which groups are zero and how
 * many hex digits each non-zero group has, and within a zero/non-zero pattern
 * the shortest choice for a group is its smallest allowed non-zero value. So
 * trying all 256 patterns with minimal digits is exact, except for the one
 * pattern whose minimal realization is the excluded anycast address (the
 * network itself), which only counts if another address shares its widths.
 */
function shortestIpv6(c: Cidr, excludeNetwork: boolean): number {
  const ranges = fieldRanges(c, 16);
  let networkPattern = 0;
  for (const [i, r] of ranges.entries()) if (r.min !== 0) networkPattern |= 1 << i;

  let best = Number.POSITIVE_INFINITY;
  for (let pattern = 0; pattern < 256; pattern++) {
    const isZero: boolean[] = [];
    const digits: number[] = [];
    let realizable = true;
    for (const [i, r] of ranges.entries()) {
      const nonZero = (pattern & (1 << i)) !== 0;
      if (nonZero ? r.max === 0 : r.min !== 0) {
        realizable = false;
        break;
      }
      isZero.push(!nonZero);
      digits.push(nonZero ? hexDigits(Math.max(r.min, 1)) : 1);
    }
    if (!realizable) continue;

    // Another address with the network's exact pattern and digit widths exists
    // iff some non-zero group has a free bit: the network's free bits are all
    // zero, so setting the lowest one never changes that group's width. Zero
    // groups can't help (their only value is 0).
    if (
      excludeNetwork &&
      pattern === networkPattern &&
      !ranges.some((r) => r.min !== 0 && r.min < r.max)
    ) {
      continue;
    }
    best = Math.min(best, canonicalLength(isZero, digits));
  }
  return best;
}

const DECIMAL_CLASSES = [
  { digits: 1, lo: 0, hi: 9 },
  { digits: 2, lo: 10, hi: 99 },
  { digits: 3, lo: 100, hi: 255 },
] as const;

/**
 * IPv4 text length is the sum of octet digit counts plus 3. Enumerate the 81
 * digit-count combinations, count the prefix addresses in each, and discard a
 * combination only if the excluded network/broadcast addresses are all it has.
 */
function shortestIpv4(c: Cidr, excluded: readonly bigint[]): number {
  const ranges = fieldRanges(c, 8);
  const octets = (v: bigint) => [24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn));
  const classOf = (v: number) => (v < 10 ? 1 : v < 100 ? 2 : 3);
  const excludedDigits = excluded.map((v) => octets(v).map(classOf));

  let best = Number.POSITIVE_INFINITY;
  for (let combo = 0; combo < 81; combo++) {
    const chosen: number[] = [];
    let count = 1;
    let rest = combo;
    for (const r of ranges) {
      const cls = DECIMAL_CLASSES[rest % 3];
      rest = Math.floor(rest / 3);
      if (cls === undefined) throw new Error('unreachable: digit class index out of range');
      count *= Math.max(0, Math.min(r.max, cls.hi) - Math.max(r.min, cls.lo) + 1);
      chosen.push(cls.digits);
    }
    for (const d of excludedDigits) if (d.every((x, i) => x === chosen[i])) count -= 1;
    if (count > 0) best = Math.min(best, chosen.reduce((a, b) => a + b, 0) + 3);
  }
  return best;
}

/**
 * Minimum length of the canonical text of any address an allocator may hand
 * out from `c` (see usableBounds). The published API constrains ipAddress
 * length, and canonical IPv6 text can be very short ("1::2"), so pools must be
 * checked up front. Exact, and O(1) regardless of prefix size.
 */
export function shortestCanonicalLength(c: Cidr): number {
  const bounds = usableBounds(c);
  if (bounds === null) throw new AddressError(`${formatCidr(c)} has no usable addresses`);
  const bits = addressBits(c.family);
  const excludes = c.prefixLength < bits - 1;
  const best =
    c.family === 6
      ? shortestIpv6(c, excludes)
      : shortestIpv4(c, excludes ? [c.network, cidrLast(c)] : []);
  if (!Number.isFinite(best)) throw new AddressError(`${formatCidr(c)} has no usable addresses`);
  return best;
}
