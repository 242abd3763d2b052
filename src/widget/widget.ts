// widget.js: what a host page embeds. It defines <swarmgrad-widget coordinator project>,
// renders a badge in Shadow DOM, frames the coordinator's embed page (where consent and
// compute live), and reports the host page's frame cadence to it. It starts nothing itself.
//
//   <script src="https://coordinator.example/widget.js" data-project="fashion-mnist-mlp" async></script>
//
// A host with its own frame timing (a fixed-step game loop, an OffscreenCanvas in a worker)
// sets frames="host" (data-frames="host" on the script) and calls reportFrames() itself.

import { FrameMessageSchema, normalizeOrigin, receive, WIDGET_API_VERSION, type FrameMessage, type HostMessage } from './messages.ts';
import { badgeLabel } from './device.ts';
import { droppedFrames, percentileOf } from './throttle.ts';

type Status = Extract<FrameMessage, { type: 'swarmgrad:status' }>;
type FramesReport = Omit<Extract<HostMessage, { type: 'swarmgrad:frames' }>, 'type' | 'v' | 'hidden'>;

const FRAME_REPORT_MS = 250;
const STYLE = `
:host { position: fixed; right: 12px; bottom: 12px; z-index: 2147483000; font: 14px system-ui, sans-serif; color-scheme: light dark; }
.badge { display: inline-flex; align-items: center; gap: 6px; padding: 6px 12px; border-radius: 999px; border: 1px solid #8884;
  background: #fff; color: #1d1d1f; cursor: pointer; font: inherit; box-shadow: 0 1px 4px #0003; }
.badge:focus-visible { outline: 3px solid #2f6fde; outline-offset: 2px; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: #888; }
.badge[data-computing="true"] .dot { background: #1f8a4c; }
.panel { margin-top: 6px; width: 340px; height: 260px; border: 1px solid #8884; border-radius: 8px; overflow: hidden; background: #fff; }
.panel[hidden] { display: none; }
iframe { width: 100%; height: 100%; border: 0; }
@media (prefers-color-scheme: dark) {
  .badge, .panel { background: #1f2023; color: #ececec; }
  .badge[data-computing="true"] .dot { background: #4cc38a; }
}`;

export class SwarmgradWidget extends HTMLElement {
  private frame: HTMLIFrameElement | null = null;
  private origin = '';
  private status: Status | null = null;
  private badge: HTMLButtonElement | null = null;
  private panel: HTMLDivElement | null = null;
  private rafId = 0;
  private readonly onMessage = (event: MessageEvent) => this.receiveFromFrame(event);

  /** The latest status from the frame (phase, computing, duty cycle…), or null before the first. */
  get lastStatus(): Status | null {
    return this.status;
  }

  /** What the badge says now, e.g. "CPU: computing". */
  get label(): string {
    return badgeLabel(this.status);
  }

  /** Ask the widget to pause (it never starts without the visitor's click in the frame). */
  pause(): void {
    this.send({ type: 'swarmgrad:pause', v: WIDGET_API_VERSION });
  }

  resume(): void {
    this.send({ type: 'swarmgrad:resume', v: WIDGET_API_VERSION });
  }

  /**
   * The host's own frame report since its last one (with frames="host"): how many frames it
   * drew, how many it dropped, its p95 interval. The frame cuts its duty cycle on any drop.
   */
  reportFrames(report: FramesReport): void {
    // Out-of-range or missing figures are clamped to what the frame accepts, never sent as NaN.
    const clamp = (x: number, max: number, round = true) => (Number.isFinite(x) ? Math.min(Math.max(0, round ? Math.round(x) : x), max) : 0);
    this.send({
      type: 'swarmgrad:frames',
      v: WIDGET_API_VERSION,
      frames: clamp(report.frames, 10_000),
      dropped: clamp(report.dropped, 10_000),
      p95Ms: clamp(report.p95Ms, 60_000, false),
      hidden: document.hidden,
    });
  }

  static get observedAttributes(): string[] {
    return ['frames'];
  }

  attributeChangedCallback(name: string): void {
    if (name !== 'frames' || !this.frame) return;
    cancelAnimationFrame(this.rafId);
    if (this.hostReportsFrames) return;
    this.watchFrames();
  }

  private get hostReportsFrames(): boolean {
    return this.getAttribute('frames') === 'host';
  }

  connectedCallback(): void {
    if (this.frame) return;
    const project = this.getAttribute('project') ?? '';
    try {
      this.origin = normalizeOrigin(this.getAttribute('coordinator') ?? '');
      if (!project) throw new Error('<swarmgrad-widget> needs a project attribute');
    } catch (error) {
      console.error(`swarmgrad widget: ${(error as Error).message}`);
      return;
    }
    const root = this.attachShadow({ mode: 'closed' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.badge = document.createElement('button');
    this.badge.type = 'button';
    this.badge.className = 'badge';
    this.badge.setAttribute('aria-expanded', 'true');
    this.badge.setAttribute('aria-controls', 'panel');
    this.badge.innerHTML = '<span class="dot" aria-hidden="true"></span><span class="label"></span>';
    this.badge.addEventListener('click', () => this.togglePanel());
    this.panel = document.createElement('div');
    this.panel.className = 'panel';
    this.panel.id = 'panel';
    this.frame = document.createElement('iframe');
    this.frame.title = 'swarmgrad: lend your idle GPU or CPU to a research project';
    // Lets the frame be cross-origin isolated (threads) where the host page is isolated too.
    this.frame.allow = 'cross-origin-isolated';
    this.frame.src = `${this.origin}/embed.html?project=${encodeURIComponent(project)}`;
    this.frame.addEventListener('load', () => this.send({ type: 'swarmgrad:init', v: WIDGET_API_VERSION, project }));
    this.panel.append(this.frame);
    root.append(style, this.badge, this.panel);
    this.render();
    window.addEventListener('message', this.onMessage);
    if (!this.hostReportsFrames) this.watchFrames();
  }

  disconnectedCallback(): void {
    window.removeEventListener('message', this.onMessage);
    cancelAnimationFrame(this.rafId);
  }

  private togglePanel(): void {
    const open = this.panel!.hidden;
    this.panel!.hidden = !open;
    this.badge!.setAttribute('aria-expanded', String(open));
  }

  private send(message: HostMessage): void {
    this.frame?.contentWindow?.postMessage(message, this.origin);
  }

  private receiveFromFrame(event: MessageEvent): void {
    const received = receive(FrameMessageSchema, event, this.origin, this.frame?.contentWindow ?? null);
    if (received.kind === 'invalid') console.warn(`swarmgrad widget: ${received.error}`);
    if (received.kind !== 'message' || received.message.type !== 'swarmgrad:status') return;
    this.status = received.message;
    this.render();
    this.dispatchEvent(new CustomEvent('swarmgrad-status', { detail: received.message }));
  }

  private render(): void {
    const s = this.status;
    const label = badgeLabel(s);
    this.badge!.querySelector('.label')!.textContent = label;
    this.badge!.dataset.computing = String(s?.computing ?? false);
    this.badge!.setAttribute('aria-label', `swarmgrad: ${label}${s?.consent ? `, at most ${Math.round(s.usageLimit * 100)}% of the time` : ''}. Show or hide controls`);
  }

  /** The host page's rAF cadence, reported to the frame so it yields as soon as frames drop. */
  private watchFrames(): void {
    let last = performance.now();
    let reported = last;
    let intervals: number[] = [];
    const onFrame = (now: number) => {
      intervals.push(now - last);
      last = now;
      if (now - reported >= FRAME_REPORT_MS) {
        this.reportFrames({ frames: intervals.length, dropped: droppedFrames(intervals, 1000 / 60), p95Ms: percentileOf(intervals, 0.95) });
        intervals = [];
        reported = now;
      }
      this.rafId = requestAnimationFrame(onFrame);
    };
    this.rafId = requestAnimationFrame(onFrame);
  }
}

function autoInit(): void {
  if (!customElements.get('swarmgrad-widget')) customElements.define('swarmgrad-widget', SwarmgradWidget);
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script?.dataset.project) return;
  const widget = document.createElement('swarmgrad-widget');
  widget.setAttribute('coordinator', script.dataset.coordinator ?? new URL(script.src).origin);
  widget.setAttribute('project', script.dataset.project);
  if (script.dataset.frames) widget.setAttribute('frames', script.dataset.frames);
  const place = () => document.body.append(widget);
  if (document.body) place();
  else document.addEventListener('DOMContentLoaded', place);
}

autoInit();
