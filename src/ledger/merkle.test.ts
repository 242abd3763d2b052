import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../protocol/signing.ts';
import { MerkleTree, leafHash, nodeHash, verifyConsistency, verifyInclusion } from './merkle.ts';

const sha256 = (d: Uint8Array) => new Uint8Array(createHash('sha256').update(d).digest());
const asyncSha256 = async (d: Uint8Array) => new Uint8Array(await crypto.subtle.digest('SHA-256', d as BufferSource));
const data = (i: number) => new TextEncoder().encode(`entry ${i}`);

/** RFC 6962 MTH written as the RFC states it, recomputing everything: the reference. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leafHash(sha256, leaves[0]) as Uint8Array;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(sha256, referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k))) as Uint8Array;
}

function tree(n: number): MerkleTree {
  const t = new MerkleTree(sha256);
  for (let i = 0; i < n; i++) t.append(data(i));
  return t;
}

describe('RFC 6962 Merkle tree', () => {
  it('matches the certificate-transparency test vectors (8 leaves, every prefix)', () => {
    const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const t = new MerkleTree(sha256);
    expect(toHex(t.root())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    leaves.forEach((hex, i) => {
      t.append(Uint8Array.from(Buffer.from(hex, 'hex')));
      expect(toHex(t.root()), `root of ${i + 1}`).toBe(roots[i]);
    });
  });

  it('every prefix root of a 70-leaf tree equals the RFC recursion', () => {
    const t = tree(70);
    const leaves = Array.from({ length: 70 }, (_, i) => data(i));
    for (let n = 0; n <= 70; n++) expect(toHex(t.root(n)), `size ${n}`).toBe(toHex(referenceRoot(leaves.slice(0, n))));
  });

  it('inclusion proofs verify for every leaf of every size up to 40, and fail for a wrong leaf, index or root', async () => {
    const t = tree(40);
    for (let n = 1; n <= 40; n++) {
      const root = t.root(n);
      for (let m = 0; m < n; m++) {
        const proof = t.inclusionProof(m, n);
        expect(await verifyInclusion(asyncSha256, m, n, t.leafHashAt(m), proof, root), `leaf ${m} of ${n}`).toBe(true);
        if (n > 1) {
          expect(await verifyInclusion(asyncSha256, (m + 1) % n, n, t.leafHashAt(m), proof, root)).toBe(false);
          expect(await verifyInclusion(asyncSha256, m, n, t.leafHashAt((m + 1) % n), proof, root)).toBe(false);
        }
        expect(await verifyInclusion(asyncSha256, m, n, t.leafHashAt(m), proof, t.root(n === 1 ? 0 : n - 1))).toBe(false);
      }
    }
  });

  it('consistency proofs verify for every pair of sizes up to 40, and fail for a wrong old root', async () => {
    const t = tree(40);
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = t.consistencyProof(m, n);
        expect(await verifyConsistency(sha256, m, n, t.root(m), t.root(n), proof), `${m} → ${n}`).toBe(true);
        if (m < n) expect(await verifyConsistency(sha256, m, n, t.root(m - 1), t.root(n), proof), `${m} → ${n}, wrong old root`).toBe(false);
      }
    }
  });

  it('stays logarithmic: proofs in a 100,000-entry log are at most 17 hashes', () => {
    const t = tree(100_000);
    expect(t.inclusionProof(12_345).length).toBeLessThanOrEqual(17);
    expect(t.consistencyProof(54_321).length).toBeLessThanOrEqual(2 * 17);
  });

  it('refuses sizes and indices outside the tree', () => {
    const t = tree(5);
    expect(() => t.root(6)).toThrow(/size 6 must be 0…5/);
    expect(() => t.inclusionProof(5)).toThrow(/leaf 5 is not in a tree of 5/);
    expect(() => t.consistencyProof(7)).toThrow(/old size 7 must be 0…5/);
  });
});
