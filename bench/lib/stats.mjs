// Latency statistics. Fan-out produces up to a million samples per second, far too many to keep,
// so latencies go into a log-linear histogram (HDR style): values below SUB are exact, larger ones
// fall into SUB buckets per power of two, so any percentile is within 1/SUB (< 0.8%) of the truth.
// Histograms merge by adding counts, which is how processes are pooled; rounds are not pooled but
// summarised one figure at a time by `spread` (median with min-max).

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128

/** Bucket index of a non-negative integer value. */
export function bucketIndex(value) {
  const v = Math.max(0, Math.floor(value));
  if (v < SUB) return v;
  const log2 = v < 2 ** 32 ? 31 - Math.clz32(v) : Math.floor(Math.log2(v));
  const shift = log2 - SUB_BITS; // v / 2**shift lies in [SUB, 2*SUB)
  const mantissa = Math.floor(v / 2 ** shift);
  return SUB + shift * SUB + (mantissa - SUB);
}

/** Smallest value that falls into bucket `index`. */
export function bucketLow(index) {
  if (index < SUB) return index;
  const shift = Math.floor((index - SUB) / SUB);
  const mantissa = SUB + ((index - SUB) % SUB);
  return mantissa * 2 ** shift;
}

/** One past the largest value that falls into bucket `index`. */
export function bucketHigh(index) {
  if (index < SUB) return index + 1;
  const shift = Math.floor((index - SUB) / SUB);
  return bucketLow(index) + 2 ** shift;
}

export class Histogram {
  constructor() {
    this.counts = new Float64Array(SUB * 40);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  record(value) {
    const i = bucketIndex(value);
    if (i >= this.counts.length) this.grow(i);
    this.counts[i]++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  grow(index) {
    const bigger = new Float64Array(Math.max(index + 1, this.counts.length * 2));
    bigger.set(this.counts);
    this.counts = bigger;
  }

  /**
   * Nearest-rank percentile (p in 0..100), reported as the middle of its bucket and clamped to
   * the observed min/max, so p0 is the min and p100 the max exactly.
   */
  percentile(p) {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const mid = i < SUB ? i : (bucketLow(i) + bucketHigh(i) - 1) / 2;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  mean() {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  merge(other) {
    const o = other instanceof Histogram ? other : Histogram.fromJSON(other);
    if (o.counts.length > this.counts.length) this.grow(o.counts.length - 1);
    for (let i = 0; i < o.counts.length; i++) this.counts[i] += o.counts[i];
    this.count += o.count;
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
    return this;
  }

  /** Sparse form for the JSON results: [[index, count], ...]. */
  toJSON() {
    const buckets = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { count: this.count, sum: this.sum, min: this.count ? this.min : null, max: this.count ? this.max : null, buckets };
  }

  static fromJSON(json) {
    const h = new Histogram();
    if (!json) return h;
    for (const [i, c] of json.buckets) {
      if (i >= h.counts.length) h.grow(i);
      h.counts[i] = c;
    }
    h.count = json.count;
    h.sum = json.sum;
    h.min = json.min ?? Infinity;
    h.max = json.max ?? -Infinity;
    return h;
  }

  /** Summary in the histogram's unit: {count, p50, p95, p99, max, mean}. */
  summary() {
    return {
      count: this.count,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: this.count ? this.max : NaN,
      mean: this.mean(),
    };
  }
}

/**
 * Exact nearest-rank percentile of a list of numbers (p in 0..100).
 * @param {number[]} values
 * @param {number} p
 * @returns {number}
 */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return /** @type {number} */ (sorted[rank - 1]);
}

export function median(values) {
  return percentile(values, 50);
}

/**
 * The spread of one figure over rounds: its median (the mean of the two middle values for an even
 * count) with the min and max. Missing values (null, undefined, NaN) are left out; `n` counts the
 * rest, and with none every field is null.
 * @param {(number|null|undefined)[]} values
 * @returns {{median: number|null, min: number|null, max: number|null, n: number}}
 */
export function spread(values) {
  const v = values.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}
