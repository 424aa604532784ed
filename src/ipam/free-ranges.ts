/**
 * Pure arithmetic on the free ranges of a new pool: which never-used ranges it starts with.
 */

export interface Range {
  lo: bigint;
  hi: bigint;
}

/**
 * A new pool's usable addresses are cut into this many ranges ("stripes") at most, so that up to
 * this many concurrent allocations in one pool each lock a different row instead of queueing on
 * one hot row. More stripes buy nothing on a 2-core database and cost a row read when a pool runs
 * dry, so this stays small.
 */
export const MAX_STRIPES = 16;

/**
 * The free ranges a pool starts with: [first, last] cut into at most MAX_STRIPES equal stripes,
 * minus the reserved addresses. Reserved addresses outside [first, last] are ignored: the catalog
 * refuses those outside the pool's CIDR, and the network, broadcast or subnet-router anycast
 * address it accepts is outside [first, last] anyway.
 */
export function initialFreeRanges(
  first: bigint,
  last: bigint,
  reserved: readonly bigint[],
): Range[] {
  if (last < first) return [];
  const size = last - first + 1n;
  const stripes = size < BigInt(MAX_STRIPES) ? size : BigInt(MAX_STRIPES);
  const ranges: Range[] = [];
  for (let i = 0n; i < stripes; i++) {
    const lo = first + (size * i) / stripes;
    const hi = first + (size * (i + 1n)) / stripes - 1n;
    ranges.push({ lo, hi });
  }
  return subtractPoints(ranges, reserved);
}

/** Removes single addresses from a sorted list of disjoint ranges, splitting where needed. */
export function subtractPoints(ranges: readonly Range[], points: readonly bigint[]): Range[] {
  const sorted = [...new Set(points)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Range[] = [];
  for (const range of ranges) {
    let lo = range.lo;
    for (const p of sorted) {
      if (p < lo || p > range.hi) continue;
      if (p > lo) out.push({ lo, hi: p - 1n });
      lo = p + 1n;
    }
    if (lo <= range.hi) out.push({ lo, hi: range.hi });
  }
  return out;
}
