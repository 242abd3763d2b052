// Merkle tree hashing as in RFC 6962 §2.1 (and RFC 9162 §2.1): a leaf is SHA-256(0x00 ‖ data),
// an interior node SHA-256(0x01 ‖ left ‖ right), and a tree of n leaves splits at k, the
// largest power of two smaller than n. Proof generation needs the leaves (the coordinator's
// side, synchronous hashing); proof verification needs only hashes (anyone, async WebCrypto
// or sync node:crypto — both fit `AnyHash`).

export type SyncHash = (data: Uint8Array) => Uint8Array;
export type AnyHash = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const LEAF = 0x00;
const NODE = 0x01;

function prefixed(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0));
  out[0] = prefix;
  let at = 1;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const leafHash = (hash: AnyHash, data: Uint8Array) => hash(prefixed(LEAF, data));
export const nodeHash = (hash: AnyHash, left: Uint8Array, right: Uint8Array) => hash(prefixed(NODE, left, right));

/** The largest power of two smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * An append-only Merkle tree. It keeps the hash of every complete, aligned subtree of size
 * 2^j (level j), so an append costs O(log n) hashes amortised, and a root, an inclusion proof
 * or a consistency proof costs O(log n) hashes.
 */
export class MerkleTree {
  /** levels[j][i]: the hash of leaves [i·2^j, (i+1)·2^j). */
  private readonly levels: Uint8Array[][] = [[]];

  constructor(private readonly hash: SyncHash) {}

  get size(): number {
    return this.levels[0].length;
  }

  /** Append one leaf; returns its index. */
  append(data: Uint8Array): number {
    const index = this.size;
    this.levels[0].push(leafHash(this.hash, data) as Uint8Array);
    // Complete every aligned subtree this leaf closes.
    let j = 0;
    let i = index;
    while (i % 2 === 1) {
      const level = this.levels[j];
      const parent = nodeHash(this.hash, level[i - 1], level[i]) as Uint8Array;
      if (!this.levels[j + 1]) this.levels[j + 1] = [];
      this.levels[j + 1].push(parent);
      j++;
      i = (i - 1) / 2;
    }
    return index;
  }

  leafHashAt(index: number): Uint8Array {
    this.checkIndex(index, this.size);
    return this.levels[0][index];
  }

  /** The root of the first `size` leaves (RFC 6962 MTH); the empty tree's root is SHA-256 of nothing. */
  root(size = this.size): Uint8Array {
    this.checkSize(size);
    if (size === 0) return this.hash(new Uint8Array(0));
    return this.subtree(0, size);
  }

  /** RFC 6962 PATH(m, D[0:size]): sibling hashes from the leaf up. */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.checkSize(size);
    this.checkIndex(index, size);
    const path: Uint8Array[] = [];
    const walk = (m: number, lo: number, hi: number): void => {
      const n = hi - lo;
      if (n <= 1) return;
      const k = splitPoint(n);
      if (m < k) {
        walk(m, lo, lo + k);
        path.push(this.subtree(lo + k, hi));
      } else {
        walk(m - k, lo + k, hi);
        path.push(this.subtree(lo, lo + k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** RFC 6962 PROOF(m, D[0:n]): proves that the tree of size m is a prefix of the tree of size n. */
  consistencyProof(m: number, n = this.size): Uint8Array[] {
    this.checkSize(n);
    if (!Number.isInteger(m) || m < 0 || m > n) throw new Error(`consistencyProof: old size ${m} must be 0…${n}`);
    if (m === 0 || m === n) return [];
    const proof: Uint8Array[] = [];
    const sub = (m: number, lo: number, hi: number, whole: boolean): void => {
      const n = hi - lo;
      if (m === n) {
        if (!whole) proof.push(this.subtree(lo, hi));
        return;
      }
      const k = splitPoint(n);
      if (m <= k) {
        sub(m, lo, lo + k, whole);
        proof.push(this.subtree(lo + k, hi));
      } else {
        sub(m - k, lo + k, hi, false);
        proof.push(this.subtree(lo, lo + k));
      }
    };
    sub(m, 0, n, true);
    return proof;
  }

  /** MTH of leaves [lo, hi). Every range the RFC recursion asks for is either an aligned power of two (cached) or splits into one. */
  private subtree(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if ((n & (n - 1)) === 0 && lo % n === 0) {
      const j = Math.log2(n);
      return this.levels[j][lo / n];
    }
    const k = splitPoint(n);
    return nodeHash(this.hash, this.subtree(lo, lo + k), this.subtree(lo + k, hi)) as Uint8Array;
  }

  private checkSize(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size) throw new Error(`MerkleTree: size ${size} must be 0…${this.size}`);
  }

  private checkIndex(index: number, size: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= size) throw new Error(`MerkleTree: leaf ${index} is not in a tree of ${size}`);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The walk both RFC 9162 verifiers share: fn and sn are the indices of the first and last
 * node at the current level; each proof hash is a left sibling (fold it in on the left) or a
 * right one. Returns the final sn (0 when the path reached the root), or null for a path
 * longer than the tree.
 */
async function walkPath(
  fn: number,
  sn: number,
  path: readonly Uint8Array[],
  left: (c: Uint8Array) => Promise<void>,
  right: (c: Uint8Array) => Promise<void>,
): Promise<number | null> {
  for (const c of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      await left(c);
      if (fn % 2 === 0) {
        do {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        } while (fn % 2 === 0 && fn !== 0);
      }
    } else {
      await right(c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn;
}

/**
 * RFC 9162 §2.1.3.2: whether `proof` shows the leaf with hash `leaf` at `index` in the tree of
 * `size` leaves with root `root`.
 */
export async function verifyInclusion(hash: AnyHash, index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): Promise<boolean> {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false;
  let r = leaf;
  const sn = await walkPath(
    index,
    size - 1,
    proof,
    async (c) => void (r = await nodeHash(hash, c, r)),
    async (c) => void (r = await nodeHash(hash, r, c)),
  );
  return sn === 0 && equal(r, root);
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree (size1, root1) is a prefix of (size2, root2). */
export async function verifyConsistency(
  hash: AnyHash,
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<boolean> {
  if (!Number.isInteger(size1) || !Number.isInteger(size2) || size1 < 0 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (size1 === 0) return proof.length === 0;
  const path = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  const end = await walkPath(
    fn,
    sn,
    path.slice(1),
    async (c) => {
      fr = await nodeHash(hash, c, fr);
      sr = await nodeHash(hash, c, sr);
    },
    async (c) => void (sr = await nodeHash(hash, sr, c)),
  );
  return end === 0 && equal(fr, root1) && equal(sr, root2);
}
