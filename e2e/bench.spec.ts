// The benchmark page end to end, in a quick run at N=256: every implementation measured on
// the real (software) GPU and in WASM, shown in a table and a chart, and downloadable as
// JSON. No figure is asserted: timings on a shared machine are noise; structure is not.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { CPU_MATMUL_SUITE_ID, CPU_MLP_SUITE_ID, cpuMatmulChecks, cpuMlpChecks } from '../src/bench/cpuChecks.ts';
import type { BenchReport } from '../src/bench/report.ts';

test('a quick run measures every suite and shows a table, a chart, checks and a JSON download', async ({ page }) => {
  await page.goto('/bench.html?sizes=256&quick=1');
  await expect(page.locator('#device-facts')).toContainText('Adapter');
  await expect(page.getByRole('button', { name: 'Run benchmark' })).toBeEnabled();
  // Started from the keyboard: Enter in the sizes field submits the form.
  await page.getByLabel('Matrix sizes N, comma-separated').press('Enter');
  await expect(page.getByRole('button', { name: 'Stop' })).toBeEnabled();
  await page.waitForFunction(() => ['done', 'failed', 'stopped'].includes(window.swarmgradBench?.state ?? ''), null, { timeout: 540_000 });
  const bench = await page.evaluate(() => window.swarmgradBench!);
  expect(bench.error).toBeUndefined();
  expect(bench.state).toBe('done');

  // Every matmul implementation at N=256, measured and positive.
  const matmul = bench.rows.filter((r) => r.suite === 'matmul');
  const names = matmul.map((r) => r.name);
  expect(names).toEqual(expect.arrayContaining(['reference 16×16 tiled', 'onnxruntime-web webgpu']));
  // ORT's WASM uses every core where the page is cross-origin isolated, and says so.
  const wasm = matmul.find((r) => r.name.startsWith('onnxruntime-web wasm, '));
  const env = await page.evaluate(() => ({ cores: navigator.hardwareConcurrency, isolated: crossOriginIsolated }));
  expect(wasm?.details?.threads).toBe(env.isolated ? env.cores : 1);
  expect(names.filter((n) => n.startsWith('ours ')).length).toBeGreaterThanOrEqual(4);
  for (const r of matmul) {
    expect(r.skipped, `${r.name}: ${r.skipped}`).toBeUndefined();
    expect(r.size).toBe(256);
    expect(r.value).toBeGreaterThan(0);
    expect(r.ms).toBeGreaterThan(0);
  }
  const mlp = bench.rows.filter((r) => r.suite === 'mlp');
  expect(mlp.map((r) => r.unit)).toEqual(['examples/s', 'submits', 'readbacks']);
  for (const r of mlp) expect(r.value).toBeGreaterThan(0);
  // Rows of other suites: positive, or not measured with a reason.
  for (const r of bench.rows) expect(r.value > 0 || (typeof r.skipped === 'string' && r.skipped.length > 0), r.name).toBe(true);

  // The CPU suites: every row measured (ours, onnxruntime-web wasm, tfjs-backend-wasm, both
  // backends through selection), and every bar judged on measured rows.
  const cpu = bench.rows.filter((r) => r.suite === CPU_MATMUL_SUITE_ID || r.suite === CPU_MLP_SUITE_ID);
  expect(cpu.map((r) => r.name)).toEqual(
    [
      'ours wasm relaxed-SIMD, 1 thread', 'ours wasm SIMD128, 1 thread', 'onnxruntime-web wasm, 1 thread',
      'ours wasm relaxed-SIMD, 2 threads', 'ours wasm SIMD128, 2 threads', 'onnxruntime-web wasm, 2 threads',
      'ours CPU backend, 1 thread', 'tfjs-backend-wasm, 1 thread', 'ours CPU backend, 2 threads', 'tfjs-backend-wasm, 2 threads',
      'selection: CPU backend gradient', 'selection: WebGPU backend gradient',
    ].filter((n) => env.cores > 1 || !n.includes('2 threads')),
  );
  // tfjs-backend-wasm may start fewer threads than asked: that row is skipped, saying so; every other row is measured.
  for (const r of cpu) {
    if (r.skipped) expect(`${r.name}: ${r.skipped}`).toMatch(/^tfjs-backend-wasm, \d+ threads: tfjs-backend-wasm started \d+ threads? when \d+ were asked for$/);
    else expect(r.value, r.name).toBeGreaterThan(0);
  }
  const cpuChecks = [...cpuMatmulChecks(cpu), ...cpuMlpChecks(cpu)];
  expect(cpuChecks.map((c) => c.detail).join('\n')).not.toMatch(/was not measured/);
  const tfjsMeasured = cpu.filter((r) => r.name.startsWith('tfjs') && !r.skipped).length;
  expect(cpuChecks).toHaveLength((env.cores > 1 ? 2 : 1) + tfjsMeasured);
  for (const c of cpuChecks) expect(bench.checks).toContainEqual(c);
  // The GPT attention block (issue 12): ours, forward and forward+backward, beside onnxruntime-web on both providers.
  for (const suite of ['attention-gpu', 'attention-cpu']) {
    const names = bench.rows.filter((r) => r.suite === suite && !r.skipped).map((r) => r.name);
    expect(names.some((n) => n.startsWith('ours forward+backward')), suite).toBe(true);
    expect(names.some((n) => n.startsWith('onnxruntime-web forward')), suite).toBe(true);
  }

  // The table shows what the rows say.
  const table = page.locator('table[data-suite="matmul"]');
  await expect(table.locator('thead th')).toHaveText(['Measured', 'Unit', 'N=256']);
  await expect(table.locator('tbody tr')).toHaveCount(matmul.length);
  const cellValues = await table.locator('tbody td[data-value]').evaluateAll((tds) => tds.map((td) => Number((td as HTMLElement).dataset.value)));
  expect(cellValues).toHaveLength(matmul.length);
  for (const v of cellValues) expect(v).toBeGreaterThan(0);
  await expect(page.locator('table[data-suite="mlp"] tbody tr')).toHaveCount(3);

  // A chart for the sized suite, none for the unsized one.
  await expect(page.locator('.chart[data-suite="matmul"] canvas')).toHaveCount(1);
  await expect(page.locator('.chart[data-suite="mlp"]')).toBeHidden();

  // One list item per check, each PASS or FAIL (N=1024 was not measured, so the matmul bars fail).
  await expect(page.locator('#checks li')).toHaveCount(bench.checks.length);
  await expect(page.locator('#checks li').first()).toContainText(/PASS|FAIL/);
  expect(bench.checks.find((c) => c.bar.includes('plain 16×16 tiled'))?.pass).toBe(false);

  // The download is the report: same rows and checks, NaN written as null.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^swarmgrad-bench-.*\.json$/);
  const report = JSON.parse(readFileSync(await download.path(), 'utf8')) as BenchReport;
  expect(report.format).toBe('swarmgrad-bench/1');
  expect(report.settings.sizes).toEqual([256]);
  expect(report.settings.quick).toBe(true);
  expect(report.adapter?.features).toBeInstanceOf(Array);
  expect(report.rows.map((r) => r.name)).toEqual(bench.rows.map((r) => r.name));
  expect(report.checks).toEqual(bench.checks);
  expect(report.text).toContain('N=256');
});

test('bad sizes get a clear error and nothing runs; the typed text stays to be corrected', async ({ page }) => {
  await page.goto('/bench.html?sizes=256,abc&auto=1');
  await expect(page.getByRole('alert')).toContainText('"abc" in "256,abc"');
  expect(await page.evaluate(() => window.swarmgradBench?.state)).toBe('failed');
  await expect(page.getByRole('button', { name: 'Run benchmark' })).toBeEnabled();
  const sizes = page.getByLabel('Matrix sizes N, comma-separated');
  await sizes.fill('256, 9');
  await sizes.press('Enter');
  await expect(page.getByRole('alert')).toContainText('from 16 to 4096; "9"');
  await expect(sizes).toHaveValue('256, 9');
  await expect(page.getByRole('button', { name: 'Stop' })).toBeDisabled();
  expect(await page.evaluate(() => window.swarmgradBench?.rows.length)).toBe(0);
});
