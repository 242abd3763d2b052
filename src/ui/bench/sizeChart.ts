// A chart of a suite's values against size, one line per measured thing, on uPlot. Both axes
// are logarithmic: sizes double, and speeds differ by orders of magnitude (the reference).

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { SuiteTable } from '../../bench/table.ts';

/** Distinct in light and dark mode alike. */
const PALETTE = ['#2f6fde', '#d9822b', '#1f8a4c', '#c23b22', '#8e5cc4', '#0f9ba8', '#b8860b', '#d9488f', '#6b8e23', '#7f7f7f', '#4b6cb7', '#a0522d'];
const HEIGHT = 300;

export class SizeChart {
  private plot: uPlot | null = null;
  private readonly resize: ResizeObserver;

  constructor(private readonly container: HTMLElement) {
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT }));
    this.resize.observe(container);
  }

  /** Redraw from the table: one series per line, measured cells only. */
  show(table: SuiteTable): void {
    const units = [...new Set(table.lines.map((l) => l.unit))];
    const data: uPlot.AlignedData = [table.sizes, ...table.lines.map((l) => l.cells.map((c) => (c.value !== null && c.value > 0 ? c.value : null)))];
    const sizeLabel = table.columns[0]?.split('=')[0] ?? 'size';
    this.plot?.destroy();
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        // A margin of half a doubling each side, so a single size still gets an axis.
        scales: { x: { time: false, distr: 3, log: 2, range: (_u, min, max) => [min / Math.SQRT2, max * Math.SQRT2] }, y: { distr: 3, log: 10 } },
        axes: [
          { label: sizeLabel, stroke: 'currentColor', splits: () => table.sizes, values: (_u, splits) => splits.map(String) },
          { label: units.join(', '), stroke: 'currentColor', size: 60 },
        ],
        series: [
          { label: sizeLabel },
          ...table.lines.map((l, i) => ({ label: l.name, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true, size: 6 }, spanGaps: false })),
        ],
      },
      data,
      this.container,
    );
    this.container.setAttribute(
      'aria-label',
      `Chart of ${units.join(', ')} against ${sizeLabel} for ${table.lines.length} series; the table above holds the same figures.`,
    );
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  private width(): number {
    return Math.max(320, this.container.clientWidth || 640);
  }
}
