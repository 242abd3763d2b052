// The results on the page: per suite a heading, a table and (where rows have sizes) a chart,
// redrawn as rows arrive; then the checks with PASS or FAIL.

import { buildSuiteTables, type SuiteTable } from '../../bench/table.ts';
import type { BenchCheck, BenchRow, BenchSuite } from '../../bench/suite.ts';
import { el } from '../dom.ts';
import { SizeChart } from './sizeChart.ts';

interface SuiteView {
  section: HTMLElement;
  tableHost: HTMLElement;
  chart: SizeChart | null;
  chartHost: HTMLElement;
}

export class ResultsView {
  private readonly views = new Map<string, SuiteView>();

  constructor(
    private readonly host: HTMLElement,
    private readonly checksHost: HTMLElement,
  ) {}

  clear(): void {
    for (const v of this.views.values()) v.chart?.destroy();
    this.views.clear();
    this.host.replaceChildren(el('p', { class: 'muted' }, 'Nothing measured yet.'));
    this.checksHost.replaceChildren(el('li', { class: 'muted' }, 'The checks are judged when every suite has run.'));
  }

  /** Redraw the tables and charts of the suites that have rows. */
  showRows(suites: BenchSuite[], rows: BenchRow[]): void {
    const tables = buildSuiteTables(suites, rows);
    if (tables.length && this.views.size === 0) this.host.replaceChildren();
    for (const table of tables) {
      const view = this.viewFor(table);
      view.tableHost.replaceChildren(renderTable(table));
      if (table.sized) {
        view.chart ??= new SizeChart(view.chartHost);
        view.chartHost.hidden = false;
        view.chart.show(table);
      }
    }
  }

  showChecks(checks: BenchCheck[]): void {
    if (checks.length === 0) {
      this.checksHost.replaceChildren(el('li', { class: 'muted' }, 'No suite states a bar.'));
      return;
    }
    this.checksHost.replaceChildren(
      ...checks.map((c) =>
        el(
          'li',
          { class: 'check', 'data-pass': String(c.pass) },
          el('strong', { class: c.pass ? 'good' : 'bad' }, c.pass ? 'PASS' : 'FAIL'),
          ' ',
          c.bar,
          el('br'),
          el('span', { class: 'muted' }, c.detail),
        ),
      ),
    );
  }

  private viewFor(table: SuiteTable): SuiteView {
    let view = this.views.get(table.suite);
    if (!view) {
      const headingId = `suite-${table.suite}-title`;
      const tableHost = el('div', { class: 'table-scroll' });
      const chartHost = el('div', { class: 'chart', role: 'img', 'data-suite': table.suite });
      chartHost.hidden = true;
      const section = el('section', { class: 'suite', 'aria-labelledby': headingId, 'data-suite': table.suite }, el('h3', { id: headingId }, table.title), tableHost, chartHost);
      this.host.append(section);
      view = { section, tableHost, chartHost, chart: null };
      this.views.set(table.suite, view);
    }
    return view;
  }
}

function renderTable(table: SuiteTable): HTMLElement {
  const head = el('tr', {}, el('th', { scope: 'col' }, 'Measured'), el('th', { scope: 'col' }, 'Unit'), ...table.columns.map((c) => el('th', { scope: 'col' }, c)));
  const body = table.lines.map((line) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, line.name),
      el('td', {}, line.unit),
      ...line.cells.map((cell) => {
        const td = el('td', {}, cell.text);
        if (cell.value !== null) td.dataset.value = String(cell.value);
        if (cell.ms !== undefined && cell.value !== null) td.title = `${cell.ms.toFixed(2)} ms per run`;
        if (cell.note !== undefined) td.title = table.notes[cell.note - 1];
        return td;
      }),
    ),
  );
  const notes = table.notes.length
    ? el('ol', { class: 'notes muted' }, ...table.notes.map((n) => el('li', {}, n)))
    : null;
  const t = el('table', { class: 'data', 'data-suite': table.suite }, el('caption', { class: 'visually-hidden' }, table.title), el('thead', {}, head), el('tbody', {}, ...body));
  const wrap = el('div', {}, t);
  if (notes) wrap.append(notes);
  return wrap;
}
