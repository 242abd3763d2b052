// Writes a small real-data fixture: the first 1000 training and 500 test examples of
// Fashion-MNIST, as gzipped IDX files with the dataset's own names, for tests that must run
// without the full dataset. Usage: node scripts/make-fixture.mjs [sourceDir] [outDir]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const source = process.argv[2] ?? process.env.SWARMGRAD_DATA_DIR ?? '/usr/share/datasets/fashion-mnist';
const out = process.argv[3] ?? 'test/fixtures/fashion-mnist-small';
const KEEP = { train: 1000, t10k: 500 };

mkdirSync(out, { recursive: true });
for (const [split, count] of Object.entries(KEEP)) {
  for (const kind of ['images-idx3', 'labels-idx1']) {
    const name = `${split}-${kind}-ubyte.gz`;
    const idx = gunzipSync(readFileSync(join(source, name)));
    const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
    const rank = idx[3];
    const expectedMagic = kind.startsWith('images') ? 0x803 : 0x801;
    if (view.getUint32(0) !== expectedMagic) throw new Error(`${name}: magic 0x${view.getUint32(0).toString(16)}, expected 0x${expectedMagic.toString(16)}; not a Fashion-MNIST IDX file`);
    if (view.getUint32(4) < count) throw new Error(`${name}: has ${view.getUint32(4)} examples, the fixture needs ${count}`);
    const header = Buffer.from(idx.subarray(0, 4 + 4 * rank));
    new DataView(header.buffer, header.byteOffset).setUint32(4, count);
    const perItem = rank === 3 ? view.getUint32(8) * view.getUint32(12) : 1;
    const payload = idx.subarray(4 + 4 * rank, 4 + 4 * rank + count * perItem);
    writeFileSync(join(out, name), gzipSync(Buffer.concat([header, payload]), { level: 9 }));
  }
}
console.log(`wrote ${KEEP.train} train and ${KEEP.t10k} test examples to ${out}`);
