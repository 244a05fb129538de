// The provider panel (top): failover %, send latency, errors, health per channel, all from
// GET /api/stats?minutes=60, drawn with uPlot. Refreshed every 10 s and, coalesced, on
// `failover` and `provider.health` events.

import uPlot from '/static/vendor/uplot/uPlot.esm.js';
import { api, isQuiet } from './api.js';
import {
  h, setChildren, providerKey, providerLabel, channelParts, channelLabel, formatNumber, formatTime, coalesce,
  serialized,
} from './dom.js';

const MINUTES = 60;
const REFRESH_MS = 10_000;
const CHART_HEIGHT = 150;
const HEALTH_HEIGHT = 120;

// The same hues as the provider badges in app.css, so a line and a badge are recognisably the
// same provider. Several error codes of one provider get shades of its hue.
const PROVIDER_COLORS = {
  twilio: ['#c2255c', '#e64980', '#a61e4d', '#f783ac'],
  baileys: ['#0b7a5e', '#20c997', '#087f5b', '#63e6be'],
  none: ['#495057', '#868e96', '#343a40', '#adb5bd'],
};
const HEALTH_COLORS = { UP: '#8ce99a', DOWN: '#fa5252', unknown: '#dee2e6' };
// Providers always get a lane in the health chart, even before their first report: the bare
// provider name, their default channel, until a channel of theirs has a row.
const KNOWN_PROVIDERS = ['twilio', 'baileys'];

/** The channel a health entry or provider.health event is about: rows from before channels name none. */
export function healthChannel(e) {
  return e.channel || providerKey(e.provider);
}

/** A lane's label on the health chart: "Twilio" over "+1 415 523 8886". */
function laneLabel(channel) {
  const parts = channelParts(channel);
  return parts.number ? `${providerLabel(parts.provider)}\n${formatNumber(parts.number)}` : providerLabel(parts.provider);
}

/**
 * The health chart's lanes: one per channel that has a row, and the bare name of a known provider
 * none of whose channels has; ordered by provider (Twilio, Baileys, others), then channel, so
 * the lanes keep their places as rows come in.
 */
export function healthLanes(entries) {
  const channels = new Set(entries.map(healthChannel));
  const providers = new Set([...channels].map((c) => providerKey(channelParts(c).provider)));
  for (const p of KNOWN_PROVIDERS) if (!providers.has(p)) channels.add(p);
  const rank = (c) => {
    const i = KNOWN_PROVIDERS.indexOf(providerKey(channelParts(c).provider));
    return i < 0 ? KNOWN_PROVIDERS.length : i;
  };
  return [...channels].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function colorOf(provider, i = 0) {
  const shades = PROVIDER_COLORS[providerKey(provider)] ?? PROVIDER_COLORS.none;
  return shades[i % shades.length];
}

const fmtPct = (v) => (v === null || v === undefined ? '—' : `${Number(v).toFixed(1)}%`);
const fmtMs = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
const fmtCount = (v) => (v === null || v === undefined ? '—' : String(v));

/**
 * Failover share of the whole window. Percentages of different minutes cannot simply be
 * averaged when volumes differ, so when the API sends per-minute outbound counts (`outbound`)
 * the mean is weighted by them; without counts it falls back to the plain mean of the minutes
 * that had traffic, which is exact only for even traffic.
 */
export function failoverOverall(stats) {
  const pct = stats.failover_pct ?? [];
  const weights = Array.isArray(stats.outbound) ? stats.outbound : null;
  let sum = 0;
  let total = 0;
  pct.forEach((v, i) => {
    if (v === null || v === undefined) return;
    const w = weights ? Number(weights[i]) || 0 : 1;
    sum += v * w;
    total += w;
  });
  return total > 0 ? sum / total : null;
}

/** Common uPlot options: local time axis, shared cursor (hovering one chart shows the minute in all). */
function baseOptions(width, height, yLabel, yFormat) {
  return {
    width,
    height,
    cursor: { sync: { key: 'wa-stats' }, drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1) * 1.1] } },
    axes: [
      { stroke: '#495057', grid: { stroke: '#e9ecef' } },
      { stroke: '#495057', grid: { stroke: '#e9ecef' }, label: yLabel, size: 56, values: (u, splits) => splits.map(yFormat) },
    ],
    legend: { live: true },
  };
}

/**
 * One uPlot chart in a container. Series are fixed when a uPlot is built, so when the set of
 * series changes (a new error code appears) the chart is rebuilt; otherwise only the data is set.
 */
class Chart {
  constructor(el, height) {
    this.el = el;
    this.height = height;
    this.plot = null;
    this.signature = null;
  }

  width() {
    return Math.max(200, Math.floor(this.el.clientWidth));
  }

  update(signature, makeOptions, data) {
    if (!this.plot || signature !== this.signature) {
      this.plot?.destroy();
      this.el.replaceChildren();
      this.plot = new uPlot(makeOptions(this.width(), this.height), data, this.el);
      this.signature = signature;
    } else {
      this.plot.setData(data);
    }
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
  }
}

export class Charts {
  constructor({ failoverEl, latencyEl, errorsEl, healthEl, failoverNowEl, healthNowEl, updatedEl }, { onError }) {
    this.failoverNowEl = failoverNowEl;
    this.healthNowEl = healthNowEl;
    this.updatedEl = updatedEl;
    this.onError = onError;

    this.failover = new Chart(failoverEl, CHART_HEIGHT);
    this.latency = new Chart(latencyEl, CHART_HEIGHT);
    this.errors = new Chart(errorsEl, CHART_HEIGHT);
    this.health = new Chart(healthEl, HEALTH_HEIGHT);
    this.healthData = { lanes: KNOWN_PROVIDERS, entries: [], fromMs: 0, toMs: 0 };

    // Never two stats requests at once: the interval, events and reconnects all ask for one.
    this.refresh = serialized(() => this.load());
    this.refreshSoon = coalesce(this.refresh, 1000);

    // uPlot draws on a fixed-size canvas: follow the panel's width.
    const ro = new ResizeObserver(() => {
      for (const chart of [this.failover, this.latency, this.errors, this.health]) chart.resize();
    });
    for (const el of [failoverEl, latencyEl, errorsEl, healthEl]) ro.observe(el);
  }

  start() {
    this.refresh();
    // A hidden tab does not need fresh charts; it refreshes as soon as it is shown again.
    setInterval(() => { if (!document.hidden) this.refresh(); }, REFRESH_MS);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.refresh(); });
  }

  async load() {
    try {
      this.render(await api.stats(MINUTES));
    } catch (err) {
      if (!isQuiet(err)) this.onError(err);
    }
  }

  render(stats) {
    const bucketsMs = stats.buckets_ms ?? [];
    // uPlot's time scale is in seconds.
    const xs = bucketsMs.map((ms) => ms / 1000);
    const n = xs.length;
    const series = (arr) => Array.from({ length: n }, (_, i) => (arr?.[i] ?? null));

    const overall = failoverOverall(stats);
    this.failoverNowEl.textContent = fmtPct(overall);
    // The exact figure (the text is rounded): one more failover among many sends still moves it.
    this.failoverNowEl.dataset.value = overall === null ? '' : String(overall);

    this.failover.update('failover', (width, height) => ({
      ...baseOptions(width, height, '%', (v) => `${v}%`),
      series: [
        { label: 'time' },
        { label: 'failover', stroke: '#e8590c', fill: 'rgba(232, 89, 12, 0.12)', width: 2, value: (u, v) => fmtPct(v) },
      ],
    }), [xs, series(stats.failover_pct)]);

    const latency = stats.latency ?? {};
    const latencyProviders = Object.keys(latency).sort();
    const latencySeries = [];
    const latencyData = [xs];
    for (const provider of latencyProviders) {
      for (const [q, dash] of [['p50', undefined], ['p95', [6, 4]]]) {
        latencySeries.push({
          label: `${providerLabel(provider)} ${q}`,
          stroke: colorOf(provider),
          dash,
          width: q === 'p50' ? 2 : 1.5,
          value: (u, v) => fmtMs(v),
        });
        latencyData.push(series(latency[provider]?.[q]));
      }
    }
    this.latency.update(`latency:${latencyProviders.join(',')}`, (width, height) => ({
      ...baseOptions(width, height, 'ms', (v) => `${v}`),
      series: [{ label: 'time' }, ...latencySeries],
    }), latencyData);

    // Errors: one stepped line per (provider, code); each minute's count holds until the next.
    const errors = [...(stats.errors ?? [])].sort((a, b) =>
      `${a.provider}/${a.code}`.localeCompare(`${b.provider}/${b.code}`));
    const shade = {};
    const errorSeries = errors.map((e) => {
      const key = providerKey(e.provider);
      shade[key] = (shade[key] ?? -1) + 1;
      return {
        label: `${providerLabel(e.provider)} ${e.code}`,
        stroke: colorOf(e.provider, shade[key]),
        width: 2,
        paths: uPlot.paths.stepped({ align: 1 }),
        value: (u, v) => fmtCount(v),
      };
    });
    const errorData = [xs, ...errors.map((e) => series(e.counts))];
    // uPlot needs at least one series to draw axes; "none" at zero says "no errors" plainly.
    if (errorSeries.length === 0) {
      errorSeries.push({ label: 'no errors', stroke: '#adb5bd', width: 1, value: (u, v) => fmtCount(v) });
      errorData.push(xs.map(() => 0));
    }
    this.errors.update(`errors:${errorSeries.map((s) => s.label).join(',')}`, (width, height) => ({
      ...baseOptions(width, height, 'per min', (v) => `${v}`),
      series: [{ label: 'time' }, ...errorSeries],
    }), errorData);

    this.renderHealth(stats.health ?? [], bucketsMs);
    this.updatedEl.textContent = `updated ${formatTime(Date.now())}`;
    this.updatedEl.setAttribute('datetime', new Date().toISOString());
  }

  /**
   * Health timeline: one lane per channel (a business number on a provider), coloured UP/DOWN
   * from each change to the next. uPlot gives the axes and the time scale; the bands are painted
   * in a draw hook because they are intervals, not values.
   */
  renderHealth(health, bucketsMs) {
    const entries = [...health].sort((a, b) => (a.since_ms ?? 0) - (b.since_ms ?? 0));
    const lanes = healthLanes(entries);
    const fromMs = bucketsMs.length ? bucketsMs[0] : Date.now() - MINUTES * 60_000;
    const toMs = Math.max(Date.now(), bucketsMs.length ? bucketsMs[bucketsMs.length - 1] + 60_000 : 0);
    this.healthData = { lanes, entries, fromMs, toMs };

    const xs = [fromMs / 1000, toMs / 1000];
    // Room for every lane: a business with many numbers gets a taller chart, not thinner lanes.
    this.health.height = Math.max(HEALTH_HEIGHT, 40 + 32 * lanes.length);
    this.health.update(`health:${lanes.join(',')}`, (width, height) => ({
      width,
      height,
      cursor: { sync: { key: 'wa-stats' }, drag: { x: false, y: false }, y: false },
      legend: { show: false },
      scales: {
        // Read from this.healthData on every redraw so setData() with new bounds just works.
        x: { time: true, range: () => [this.healthData.fromMs / 1000, this.healthData.toMs / 1000] },
        y: { range: () => [0, this.healthData.lanes.length] },
      },
      axes: [
        { stroke: '#495057', grid: { show: false } },
        {
          stroke: '#495057',
          grid: { show: false },
          size: 125,
          splits: () => this.healthData.lanes.map((_, i) => i + 0.5),
          // Two lines, provider over number, so a number fits beside a narrow chart.
          values: (u, splits) => splits.map((s) => laneLabel(this.healthData.lanes[Math.floor(s)])),
        },
      ],
      series: [{}, { label: 'health', stroke: 'transparent', points: { show: false } }],
      hooks: { draw: [(u) => this.drawHealth(u)] },
    }), [xs, [null, null]]);

    this.paintHealthNow(lanes, entries);
  }

  drawHealth(u) {
    const { lanes, entries, fromMs, toMs } = this.healthData;
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    lanes.forEach((channel, lane) => {
      const own = entries.filter((e) => healthChannel(e) === channel);
      const yTop = u.valToPos(lane + 0.85, 'y', true);
      const yBottom = u.valToPos(lane + 0.15, 'y', true);
      // Before the first known state the lane is grey: no report in the window.
      let cursorMs = fromMs;
      let state = 'unknown';
      const paint = (endMs) => {
        if (endMs <= cursorMs) return;
        const x0 = u.valToPos(cursorMs / 1000, 'x', true);
        const x1 = u.valToPos(endMs / 1000, 'x', true);
        ctx.fillStyle = HEALTH_COLORS[state] ?? HEALTH_COLORS.unknown;
        ctx.fillRect(x0, yTop, Math.max(1, x1 - x0), yBottom - yTop);
      };
      for (const e of own) {
        // The state at the window's start may have begun earlier: clamp it to the window.
        const since = Math.max(fromMs, e.since_ms ?? fromMs);
        paint(Math.min(since, toMs));
        cursorMs = Math.max(cursorMs, since);
        state = e.state === 'UP' || e.state === 'DOWN' ? e.state : 'unknown';
      }
      paint(toMs);
    });
    ctx.restore();
  }

  /**
   * Current state per channel as text chips, the chart's content for those who cannot see it:
   * "Twilio +1 415 523 8886: DOWN since 10:32", and when DOWN, why.
   */
  paintHealthNow(lanes, entries) {
    const latest = new Map();
    for (const e of entries) latest.set(healthChannel(e), e);
    setChildren(this.healthNowEl, lanes.map((channel) => {
      const e = latest.get(channel);
      const state = e?.state ?? 'unknown';
      return h('li', {
        class: 'health-chip',
        dataset: { provider: providerKey(channelParts(channel).provider), channel, state },
        title: e?.reason ? e.reason : null,
      },
        `${channelLabel(channel)}: ${state}`,
        e?.since_ms ? h('span', { class: 'health-since' }, ` since ${formatTime(e.since_ms)}`) : null,
        state === 'DOWN' && e?.reason ? h('span', { class: 'health-reason' }, `: ${e.reason}`) : null);
    }));
  }

  /** A provider.health event: show the new state at once, the chart follows with the refetch. */
  noteHealth(event) {
    const provider = providerKey(event.provider);
    const channel = healthChannel(event);
    const { lanes, entries } = this.healthData;
    const next = [...entries, { provider, channel, state: event.state, since_ms: event.since_ms ?? event.at_ms, reason: event.reason }];
    // A new channel's lane shows at once in the chips; the chart gets it with the refetch.
    this.healthData = { ...this.healthData, entries: next, lanes: lanes.includes(channel) ? lanes : healthLanes(next) };
    this.paintHealthNow(this.healthData.lanes, next);
    this.health.plot?.redraw();
    this.refreshSoon();
  }
}
