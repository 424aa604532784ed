/**
 * A latency histogram in microseconds: exact below 1 ms, then 128 sub-buckets per power of two
 * (under 0.8 % error), so recording is O(1) and memory does not grow with the run's length.
 */
const LINEAR_LIMIT = 1024;
const SUB_BUCKETS = 128;
const SUB_BITS = 7;
/** Up to 2^40 µs (12 days): far beyond any request. */
const MAX_EXPONENT = 40;

export class Histogram {
  readonly #counts = new Float64Array(LINEAR_LIMIT + (MAX_EXPONENT - 10 + 1) * SUB_BUCKETS);
  #total = 0;
  #sum = 0;
  #max = 0;

  /** Records one value in microseconds. */
  record(us: number): void {
    const v = Math.max(0, Math.round(us));
    this.#counts[bucketOf(v)] = (this.#counts[bucketOf(v)] ?? 0) + 1;
    this.#total++;
    this.#sum += v;
    if (v > this.#max) this.#max = v;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < this.#counts.length; i++) {
      this.#counts[i] = (this.#counts[i] ?? 0) + (other.#counts[i] ?? 0);
    }
    this.#total += other.#total;
    this.#sum += other.#sum;
    this.#max = Math.max(this.#max, other.#max);
  }

  get count(): number {
    return this.#total;
  }

  get meanUs(): number {
    return this.#total === 0 ? 0 : this.#sum / this.#total;
  }

  get maxUs(): number {
    return this.#max;
  }

  /** The value at quantile q (0..1), as the upper edge of its bucket; 0 when empty. */
  quantileUs(q: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(upperEdgeOf(i), this.#max);
    }
    return this.#max;
  }
}

function bucketOf(v: number): number {
  if (v < LINEAR_LIMIT) return v;
  const exponent = Math.floor(Math.log2(v));
  const capped = Math.min(exponent, MAX_EXPONENT);
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(v / 2 ** (capped - SUB_BITS)) - SUB_BUCKETS);
  return LINEAR_LIMIT + (capped - 10) * SUB_BUCKETS + sub;
}

function upperEdgeOf(bucket: number): number {
  if (bucket < LINEAR_LIMIT) return bucket;
  const rest = bucket - LINEAR_LIMIT;
  const exponent = Math.floor(rest / SUB_BUCKETS) + 10;
  const sub = rest % SUB_BUCKETS;
  return (SUB_BUCKETS + sub + 1) * 2 ** (exponent - SUB_BITS) - 1;
}
