/**
 * Row heights with O(log n) updates and lookups (a Fenwick tree): measuring one row of 10,000
 * must not cost a pass over all of them, and scrolling asks "which row is at y?" every frame.
 */
export class SizeIndex {
  private readonly sizes: Float64Array;
  private readonly tree: Float64Array;
  readonly length: number;

  constructor(sizes: ArrayLike<number>) {
    const n = sizes.length;
    this.length = n;
    this.sizes = Float64Array.from(sizes);
    // Linear-time construction: each node pushes its sum to its parent once.
    this.tree = new Float64Array(n + 1);
    for (let i = 1; i <= n; i++) {
      this.tree[i]! += this.sizes[i - 1]!;
      const parent = i + (i & -i);
      if (parent <= n) this.tree[parent]! += this.tree[i]!;
    }
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  /** Set row i's size; returns the change. */
  set(i: number, size: number): number {
    const delta = size - this.sizes[i]!;
    if (delta === 0) return 0;
    this.sizes[i] = size;
    for (let j = i + 1; j <= this.length; j += j & -j) this.tree[j]! += delta;
    return delta;
  }

  /** Top of row i: the sum of the sizes of rows 0..i-1. offset(length) is the total. */
  offset(i: number): number {
    let sum = 0;
    for (let j = Math.min(i, this.length); j > 0; j -= j & -j) sum += this.tree[j]!;
    return sum;
  }

  get total(): number {
    return this.offset(this.length);
  }

  /** The row containing y (the last row whose top is <= y), clamped to [0, length - 1]. */
  indexAt(y: number): number {
    if (this.length === 0) return 0;
    let pos = 0;
    let remaining = y;
    let step = 1;
    while (step * 2 <= this.length) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.length && this.tree[next]! <= remaining) {
        pos = next;
        remaining -= this.tree[next]!;
      }
    }
    return Math.min(pos, this.length - 1);
  }
}
