// The widget frame, served from the coordinator's origin inside a host page's iframe: the
// consent click happens here (the host cannot fake it), the contributor's key lives here
// (the host cannot read it), and compute runs here at the duty cycle the throttle allows.

import '../../ui/styles.css';
import './embed.css';
import { Contributor, type ContributorState } from '../../contributor/contributor.ts';
import type { UseStore } from 'idb-keyval';
import { forgetIdentity, identityStoreOn } from '../../contributor/identity.ts';
import { downloadJson } from '../../ui/dom.ts';
import type { JobAnnouncement } from '../../server/httpApi.ts';
import { ConsentStore, embeddingSiteOf, memoryStorage, type SiteConsent } from '../consentStore.ts';
import { contributionLine, deviceLine as describeDevice, deviceOf } from '../device.ts';
import { HostMessageSchema, receive, WIDGET_API_VERSION, type FrameMessage, type PauseReason, type WidgetPhase } from '../messages.ts';
import { DEFAULT_PREFERENCES, meteredNetwork, msToNextDay, preferencePauses, type ConnectionInfo, type VolunteerPreferences } from '../preferences.ts';
import { DutyCycleController, droppedFrames } from '../throttle.ts';
import { ThrottledTrainer } from '../throttledTrainer.ts';
import { browserStorageEnvironment, mayAsk, openFrameStorage, storageOnConsent, storageSentence, type FrameStorage, type StorageEnvironment } from '../storageAccess.ts';
import { PauseReasons } from './backoff.ts';

const DEVICE_LOST_PAUSE_MS = 30_000;
const FRAME_REPORT_MS = 500;
/** Host frame reports arrive every 250 ms; without one for this long the frame watches its own. */
const HOST_REPORTS_STALE_MS = 1000;
/** A longer rAF interval is a throttled frame (collapsed panel, hidden tab), not dropped frames. */
const THROTTLED_INTERVAL_MS = 1000;

const PAUSE_WORDS: Record<PauseReason, string> = {
  visitor: 'by you',
  host: 'by this page',
  hidden: 'the tab is hidden',
  battery: 'the battery is low',
  'device-lost': 'the GPU was lost, trying again soon',
  budget: "today's compute budget is spent",
  metered: 'the network may be metered',
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const consentSection = $('consent');
const controls = $('controls');
const donate = $<HTMLButtonElement>('donate');
const pauseButton = $<HTMLButtonElement>('pause');
const usage = $<HTMLInputElement>('usage');
const usageValue = $<HTMLOutputElement>('usage-value');
const forget = $<HTMLButtonElement>('forget');
const statusLine = $('status');
const deviceLine = $('device');
const contribution = $('contribution');
const downloadReceipts = $<HTMLButtonElement>('download-receipts');
const storageNote = $('storage-note');
const keyCode = $('key-code');
const linkTo = $<HTMLInputElement>('link-to');
const linkSend = $<HTMLButtonElement>('link-send');
const linkResult = $('link-result');

const site = embeddingSiteOf(document, location);
const embedded = window.parent !== window && site !== null;
/** Where consent and key are kept (storageAccess.ts); set in main(), before anything reads consent. */
let stored: FrameStorage = { kind: 'page', storage: memoryStorage(), indexedDB: null, how: 'not opened yet', asked: false };
let storageEnv: StorageEnvironment | null = null;
let consents = new ConsentStore(stored.storage);
/** The contributor key's store in the granted IndexedDB; null: a key for this visit only. */
let keyStore: UseStore | null = null;
/** This site's consent as last read or written: the frame is its only writer, so per-message paths read this, not storage. */
let consent: SiteConsent | null = null;
const controller = new DutyCycleController();
const reasons = new PauseReasons((paused) => void (paused ? contributor?.pause() : contributor?.resume()));
let contributor: Contributor | null = null;
let trainer: ThrottledTrainer | null = null;
let state: ContributorState | null = null;
let phaseOverride: WidgetPhase | null = null;
let job: JobAnnouncement | null = null;
let lastHostReportAt = -Infinity;
/** What the visitor's terms are checked against. */
const facts = {
  hostHidden: false,
  battery: null as { charging: boolean; level: number } | null,
  metered: null as boolean | null,
  /** trainer.computeMs already added to today's use. */
  recordedMs: 0,
};
let dayTimer: ReturnType<typeof setTimeout> | null = null;

const preferences = (): VolunteerPreferences => consent?.preferences ?? DEFAULT_PREFERENCES;

/** Sets the pause reasons the visitor's terms give now: hidden tab, battery, today's budget, a metered network. */
function applyPreferences(): void {
  const now = Date.now();
  const pauses = preferencePauses(preferences(), {
    hidden: facts.hostHidden || document.hidden,
    battery: facts.battery,
    use: consent?.use ?? null,
    nowMs: now,
    metered: facts.metered,
  });
  reasons.set('hidden', pauses.hidden);
  reasons.set('battery', pauses.battery);
  reasons.set('budget', pauses.budget);
  reasons.set('metered', pauses.metered);
  // A spent budget comes back at the visitor's next midnight.
  if (pauses.budget && !dayTimer) {
    dayTimer = setTimeout(() => {
      dayTimer = null;
      applyPreferences();
      report();
    }, msToNextDay(now) + 1000);
  }
}

/** Adds the compute since the last call to today's use here (kept with the consent). */
function recordCompute(): void {
  const total = trainer?.computeMs ?? 0;
  const delta = total - facts.recordedMs;
  if (!site || delta <= 0 || !consent) return;
  facts.recordedMs = total;
  consent = consents.recordUse(site, delta, Date.now());
  if (preferences().dailyMinutes !== null) applyPreferences();
}

function post(message: FrameMessage): void {
  if (embedded) window.parent.postMessage(message, site!);
}

function phase(): WidgetPhase {
  if (phaseOverride) return phaseOverride;
  if (!contributor || !state) return 'awaiting-consent';
  if (reasons.paused) return 'paused';
  switch (state.phase) {
    case 'starting':
    case 'connecting':
    case 'retrying':
      return 'starting';
    case 'contributing':
      return state.computing ? 'computing' : 'idle';
    case 'paused':
      return 'paused';
    case 'failed':
      return 'failed';
    default:
      return 'stopped';
  }
}

function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

function report(): void {
  recordCompute();
  const p = phase();
  const device = deviceOf(state?.backend ?? null, navigator.hardwareConcurrency || 1);
  setText(deviceLine, describeDevice(device));
  const given = {
    results: state?.tasks ?? 0,
    examples: state?.examples ?? 0,
    computeMs: trainer?.computeMs ?? 0,
    verified: { results: state?.credit.receipts ?? 0, examples: state?.credit.examples ?? 0 },
  };
  setText(contribution, contributionLine(given));
  if (downloadReceipts.disabled !== (given.verified.results === 0)) downloadReceipts.disabled = given.verified.results === 0;
  const message = phaseOverride === 'failed' ? statusLine.textContent ?? '' : reasons.paused ? `Paused: ${reasons.list.map((r) => PAUSE_WORDS[r]).join(', ')}.` : state?.message ?? 'Waiting for your consent.';
  // Touch the DOM only on a change: a repaint is raster work in the process that draws the host's frames too.
  setText(statusLine, message);
  setText(pauseButton, reasons.list.includes('visitor') ? 'Resume' : 'Pause');
  if (pauseButton.getAttribute('aria-pressed') !== String(reasons.list.includes('visitor'))) pauseButton.setAttribute('aria-pressed', String(reasons.list.includes('visitor')));
  post({
    type: 'swarmgrad:status',
    v: WIDGET_API_VERSION,
    phase: p,
    computing: p === 'computing',
    consent: contributor !== null,
    pausedBy: reasons.list,
    dutyCycle: controller.duty,
    usageLimit: controller.usageLimit,
    tasks: state?.tasks ?? 0,
    examples: state?.examples ?? 0,
    message: message.slice(0, 500),
    computeMs: given.computeMs,
    verified: given.verified,
    device,
  });
}

function fail(message: string): void {
  phaseOverride = 'failed';
  statusLine.textContent = message;
  donate.disabled = true;
  report();
}

function startContributing(): void {
  if (!job || contributor) return;
  consentSection.hidden = true;
  controls.hidden = false;
  usage.value = String(Math.round(controller.usageLimit * 100));
  usageValue.textContent = `${usage.value}%`;
  showPreferences();
  applyPreferences();
  contributor = new Contributor({
    job,
    // One CPU thread: the host page keeps the other cores for its own frames.
    cpuThreads: 1,
    // A software GPU (SwiftShader) compiles and computes in the GPU process that draws the host's
    // frames: starting it to time it cost a game 17–37 dropped frames in 4 s (scripts/bench-widget.ts).
    hardwareGpuOnly: true,
    identityStore: keyStore,
    wrapTrainer: (inner) =>
      (trainer ??= new ThrottledTrainer(inner, controller, {
        clock: { now: () => performance.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
        mayCompute: () => reasons.whenRunning(),
        onDeviceLost: backOffAfterDeviceLoss,
      })),
    onState: (s) => {
      state = s;
      setText(keyCode, s.publicKey ?? '–');
      report();
    },
  });
  void contributor.start().then(() => {
    if (reasons.paused) void contributor?.pause();
  });
  watchOwnFrames();
  report();
}

function backOffAfterDeviceLoss(): void {
  reasons.set('device-lost', true);
  setTimeout(() => {
    reasons.set('device-lost', false);
    report();
  }, DEVICE_LOST_PAUSE_MS);
  report();
}

async function stopAndForget(): Promise<void> {
  if (site) consents.forget(site);
  consent = null;
  await contributor?.stop('the visitor stopped and forgot this site');
  contributor = null;
  trainer = null;
  facts.recordedMs = 0;
  state = null;
  // Forget who we are here too: this origin's contributor key and the id it had in this job.
  if (keyStore) await forgetIdentity(job ? [job.id] : [], keyStore).catch((error) => console.warn(`Could not forget the contributor key: ${(error as Error).message}`));
  controls.hidden = true;
  consentSection.hidden = false;
  donate.focus();
  report();
}

/**
 * This frame's own rAF cadence, the fallback while the host reports none (a host without
 * widget.js's monitor): dropped frames here cut the duty cycle too. While the host reports,
 * its frames are the ones that matter, and counting the same jank twice would cut twice.
 */
function watchOwnFrames(): void {
  let last = performance.now();
  let intervals: number[] = [];
  let reported = last;
  const onFrame = (now: number) => {
    if (now - last < THROTTLED_INTERVAL_MS && !document.hidden) intervals.push(now - last);
    last = now;
    if (now - reported >= FRAME_REPORT_MS) {
      const dropped = droppedFrames(intervals, 1000 / 60);
      if (now - lastHostReportAt > HOST_REPORTS_STALE_MS && dropped > 0) {
        controller.onDroppedFrames(dropped, now);
        report();
      }
      intervals = [];
      reported = now;
    }
    if (contributor) requestAnimationFrame(onFrame);
  };
  requestAnimationFrame(onFrame);
}

/** The Network Information API where the browser has it (Chromium): metered or not. */
function watchConnection(): void {
  const connection = (navigator as Navigator & { connection?: ConnectionInfo & EventTarget }).connection;
  facts.metered = meteredNetwork(connection);
  connection?.addEventListener('change', () => {
    facts.metered = meteredNetwork(connection);
    applyPreferences();
    report();
  });
}

/** The preference controls: shown from the stored terms, each change checked before it is kept. */
function showPreferences(): void {
  const p = preferences();
  $<HTMLInputElement>('pref-background').checked = p.background;
  $<HTMLInputElement>('pref-battery').value = String(Math.round(p.batteryBelow * 100));
  $<HTMLInputElement>('pref-minutes').value = p.dailyMinutes === null ? '' : String(p.dailyMinutes);
  $<HTMLInputElement>('pref-unmetered').checked = p.unmeteredOnly;
  setText($('pref-network'), facts.metered === null ? 'This browser does not say whether the network is metered, so with this on nothing computes.' : '');
}

function watchPreferenceControls(): void {
  const error = $('pref-error');
  const change = (read: () => Partial<VolunteerPreferences>) => () => {
    try {
      consent = consents.setPreferences(site!, read());
      setText(error, '');
    } catch (e) {
      setText(error, (e as Error).message);
    }
    showPreferences();
    applyPreferences();
    report();
  };
  $('pref-background').addEventListener('change', change(() => ({ background: $<HTMLInputElement>('pref-background').checked })));
  $('pref-unmetered').addEventListener('change', change(() => ({ unmeteredOnly: $<HTMLInputElement>('pref-unmetered').checked })));
  $('pref-battery').addEventListener('change', change(() => ({ batteryBelow: Number($<HTMLInputElement>('pref-battery').value) / 100 })));
  $('pref-minutes').addEventListener('change', change(() => {
    const text = $<HTMLInputElement>('pref-minutes').value.trim();
    return { dailyMinutes: text === '' ? null : Number(text) };
  }));
}

async function watchBattery(): Promise<void> {
  const nav = navigator as Navigator & { getBattery?: () => Promise<{ charging: boolean; level: number; addEventListener(t: string, f: () => void): void }> };
  if (!nav.getBattery) return;
  const battery = await nav.getBattery();
  const check = () => {
    facts.battery = { charging: battery.charging, level: battery.level };
    applyPreferences();
    report();
  };
  battery.addEventListener('chargingchange', check);
  battery.addEventListener('levelchange', check);
  check();
}

function onHostMessage(event: MessageEvent): void {
  if (!site) return;
  const received = receive(HostMessageSchema, event, site, window.parent);
  if (received.kind === 'invalid') console.warn(received.error);
  if (received.kind !== 'message') return;
  const m = received.message;
  switch (m.type) {
    case 'swarmgrad:init':
      if (job && m.project !== job.id) fail(`This coordinator runs "${job.id}", not "${m.project}".`);
      report();
      return;
    case 'swarmgrad:pause':
    case 'swarmgrad:resume':
      reasons.set('host', m.type === 'swarmgrad:pause');
      report();
      return;
    case 'swarmgrad:frames': {
      // One control step: cut on a drop, else climb; the host hears the new duty cycle at once.
      const now = performance.now();
      lastHostReportAt = now;
      if (m.dropped > 0) controller.onDroppedFrames(m.dropped, now);
      else controller.advance(now);
      facts.hostHidden = m.hidden;
      applyPreferences();
      if (contributor) report();
      return;
    }
  }
}

/** "Your credit on other sites": this frame's key signs a link to the pasted key, and the coordinator records it. */
async function handCreditOn(): Promise<void> {
  linkSend.disabled = true;
  linkResult.className = '';
  try {
    if (!contributor) throw new Error('lend compute first: this site’s key is made then');
    const { toKey, taken } = await contributor.handCreditTo(linkTo.value);
    setText(linkResult, `Done: this site's credit now counts for ${toKey.slice(0, 20)}… (log entry ${taken.entry}).`);
  } catch (error) {
    setText(linkResult, `Not linked: ${(error as Error).message}`);
    linkResult.className = 'bad';
  } finally {
    linkSend.disabled = false;
  }
}

/** Keeps consent and key in `next` from now on; a consent chosen in memory moves there. */
function useStorage(next: FrameStorage): void {
  if (next.storage !== stored.storage) {
    const target = new ConsentStore(next.storage);
    consent = site ? consents.moveTo(site, target) : null;
    consents = target;
  }
  stored = next;
  keyStore = next.indexedDB ? identityStoreOn(next.indexedDB) : null;
  console.info(`swarmgrad widget: keeping consent ${next.kind === 'page' ? 'for this visit only' : `in ${next.kind} storage`} (${next.how}); the contributor key ${keyStore ? 'with it' : 'for this visit only'}.`);
  setText(storageNote, storageSentence(stored, mayAsk(storageEnv!, stored)));
}

/** The visitor's click: consent now (in memory if need be), storage access asked in the same click, then compute. */
async function consentAndStart(): Promise<void> {
  consent = consents.grant(site!, Date.now(), controller.usageLimit);
  const asking = mayAsk(storageEnv!, stored);
  // Called before any await: the request needs this click's user activation.
  const answer = storageOnConsent(storageEnv!, stored);
  if (asking) {
    donate.disabled = true;
    setText(storageNote, 'Waiting for your browser’s answer about keeping this choice…');
  }
  useStorage(await answer);
  startContributing();
}

async function main(): Promise<void> {
  if (!embedded) {
    fail('This page is the swarmgrad widget: embed it with widget.js (see the README), or contribute from the home page.');
    return;
  }
  storageEnv = browserStorageEnvironment(site!);
  // Before consent this never prompts: it uses what the browser gives, or a grant already made.
  useStorage(await openFrameStorage(storageEnv));
  consent = consents.get(site!);
  if (consent) controller.setUsageLimit(consent.usageLimit);
  window.addEventListener('message', onHostMessage);
  document.addEventListener('visibilitychange', () => {
    applyPreferences();
    report();
  });
  watchConnection();
  applyPreferences();
  void watchBattery().catch((error) => console.warn(`Battery status unavailable: ${(error as Error).message}`));
  try {
    const response = await fetch('/api/job');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    job = (await response.json()) as JobAnnouncement;
  } catch (error) {
    fail(`No job is being served (${(error as Error).message}).`);
    return;
  }
  $('project-name').textContent = job.name;
  donate.disabled = false;
  donate.addEventListener('click', () => void consentAndStart());
  linkSend.addEventListener('click', () => void handCreditOn());
  pauseButton.addEventListener('click', () => {
    reasons.set('visitor', !reasons.list.includes('visitor'));
    report();
  });
  usage.addEventListener('input', () => {
    const limit = Number(usage.value) / 100;
    controller.setUsageLimit(limit);
    consent = consents.setUsageLimit(site!, limit);
    usageValue.textContent = `${usage.value}%`;
    report();
  });
  forget.addEventListener('click', () => void stopAndForget());
  watchPreferenceControls();
  // The receipts this page checked, to verify its credit offline (`npm run ledger -- receipts LOG FILE`).
  downloadReceipts.addEventListener('click', () => {
    if (contributor) downloadJson(`swarmgrad-receipts-${job?.id ?? 'job'}.json`, contributor.receiptsFile());
  });
  post({ type: 'swarmgrad:ready', v: WIDGET_API_VERSION });
  // A choice remembered for this site: the visitor already opted in here.
  if (consent) startContributing();
  else report();
}

void main();
