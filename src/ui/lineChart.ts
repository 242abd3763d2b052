// Live line charts on uPlot: one x series, any number of y series, appended point by point.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec {
  label: string;
  color: string;
  /** Which y scale ('y' left, 'y2' right). */
  scale?: 'y' | 'y2';
}

export class LineChart {
  private readonly plot: uPlot;
  private readonly data: (number | null)[][];

  constructor(container: HTMLElement, xLabel: string, series: SeriesSpec[], title?: string) {
    this.data = [[], ...series.map(() => [])];
    const width = Math.max(320, container.clientWidth || 640);
    this.plot = new uPlot(
      {
        title,
        width,
        height: 260,
        scales: { x: { time: false } },
        axes: [
          { label: xLabel, stroke: 'currentColor' },
          { scale: 'y', stroke: 'currentColor' },
          ...(series.some((s) => s.scale === 'y2') ? [{ scale: 'y2', side: 1, stroke: 'currentColor' } as uPlot.Axis] : []),
        ],
        series: [{ label: xLabel }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.scale ?? 'y', spanGaps: true }))],
      },
      this.data as uPlot.AlignedData,
      container,
    );
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(320, container.clientWidth), height: 260 })).observe(container);
  }

  /** Add a point; null leaves a gap for a series without a value at this x. */
  push(x: number, ys: (number | null)[]): void {
    this.data[0].push(x);
    ys.forEach((y, i) => this.data[i + 1].push(y));
    this.plot.setData(this.data as uPlot.AlignedData);
  }

  /** Replace every point at once (a fresh snapshot of a series). */
  set(xs: number[], ys: (number | null)[][]): void {
    this.data[0] = xs.slice();
    ys.forEach((column, i) => (this.data[i + 1] = column.slice()));
    this.plot.setData(this.data as uPlot.AlignedData);
  }

  clear(): void {
    for (const column of this.data) column.length = 0;
    this.plot.setData(this.data as uPlot.AlignedData);
  }
}
