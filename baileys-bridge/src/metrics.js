// Minimal Prometheus text-format registry: counters and gauges, optional labels.
export class Metrics {
  constructor() {
    this.defs = new Map();
  }

  define(name, type, help) {
    this.defs.set(name, { type, help, values: new Map() });
    return this;
  }

  static key(labels) {
    return labels ? Object.entries(labels).sort().map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`).join(',') : '';
  }

  inc(name, labels, by = 1) {
    const d = this.defs.get(name);
    const k = Metrics.key(labels);
    d.values.set(k, (d.values.get(k) || 0) + by);
  }

  set(name, value, labels) {
    this.defs.get(name).values.set(Metrics.key(labels), value);
  }

  /** One series' value; without labels, the sum over all of the metric's series. */
  get(name, labels) {
    const values = this.defs.get(name).values;
    if (labels) return values.get(Metrics.key(labels)) || 0;
    let sum = 0;
    for (const v of values.values()) sum += v;
    return sum;
  }

  render() {
    const lines = [];
    for (const [name, d] of this.defs) {
      lines.push(`# HELP ${name} ${d.help}`, `# TYPE ${name} ${d.type}`);
      if (d.values.size === 0) lines.push(`${name} 0`);
      for (const [k, v] of d.values) lines.push(`${name}${k ? `{${k}}` : ''} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}

export function bridgeMetrics() {
  return new Metrics()
    .define('bridge_inbound_forwarded_total', 'counter', 'Outbox entries delivered to ingress with a 2xx, by event')
    .define('bridge_inbound_skipped_total', 'counter', 'Inbound messages not forwarded, by reason')
    .define('bridge_outbox_retries_total', 'counter', 'Failed outbox delivery attempts that will be retried')
    .define('bridge_outbox_rejected_total', 'counter', 'Outbox entries ingress refused for good (a 4xx other than 401, 403, 408, 429) and moved to rejected/, by status')
    .define('bridge_outbox_rejected_reported_total', 'counter', 'Parked entries reported to ingress, which raised wa.error with their payload')
    .define('bridge_outbox_rejected_unreported', 'gauge', 'Parked entries whose report ingress has not yet taken (markers in outbox/to-report/)')
    .define('bridge_outbox_rejected_report_retries_total', 'counter', 'Failed reports of parked entries that will be retried (ingress away, 5xx, ...)')
    .define('bridge_outbox_rejected_report_errors_total', 'counter', 'Reports of parked entries ingress refused (400), by status; kept for the next start')
    .define('bridge_outbox_depth', 'gauge', 'Entries waiting in the durable outbox')
    .define('bridge_sends_total', 'counter', 'Messages handed to WhatsApp by POST /send')
    .define('bridge_send_errors_total', 'counter', 'POST /send failures, by reason')
    .define('bridge_reconnects_total', 'counter', 'WhatsApp socket reconnect attempts')
    .define('bridge_media_downloads_total', 'counter', 'Inbound media downloads, by result')
    .define('bridge_connected', 'gauge', '1 when the WhatsApp socket is open');
}
