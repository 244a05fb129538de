// faults.mjs - scripted misbehaviour for POST .../Messages.json, optionally scoped to one
// recipient so concurrent tests do not steal each other's faults.
//
// Two queues, each consumed in the order faults were added:
//  - response faults decide how a request is answered: {status}, {latencyMs}, {drop:true}
//    (latencyMs may be combined with status or drop: wait, then misbehave);
//  - callback overrides decide which status callbacks a 201'd message gets: {callbacks:[...]}.
// A request takes at most one entry from each queue: the first whose scope matches.
import { scopeKey } from './phone.mjs';

const STATUSES = new Set(['queued', 'sending', 'sent', 'failed', 'delivered', 'undelivered',
  'receiving', 'received', 'accepted', 'scheduled', 'read', 'partially_delivered', 'canceled']);

export class FaultError extends Error {}

function parseCallbacks(list) {
  if (!Array.isArray(list)) throw new FaultError('callbacks must be an array');
  return list.map((c) => {
    const step = typeof c === 'string' ? { status: c } : { ...c };
    if (!STATUSES.has(step.status)) throw new FaultError(`unknown callback status ${JSON.stringify(step.status)}`);
    if (step.errorCode !== undefined && !Number.isInteger(step.errorCode)) {
      throw new FaultError('callbacks[].errorCode must be an integer');
    }
    return step;
  });
}

export class Faults {
  constructor() { this.entries = []; this.nextId = 1; }

  // Accepts one fault object or an array of them; returns the stored entries.
  add(input) {
    const list = Array.isArray(input) ? input : [input];
    const parsed = list.map((f) => this.#parse(f));
    this.entries.push(...parsed);
    return parsed;
  }

  #parse(f) {
    if (!f || typeof f !== 'object') throw new FaultError('a fault must be a JSON object');
    const count = f.count ?? 1;
    if (!Number.isInteger(count) || (count < 1 && count !== -1)) {
      throw new FaultError('count must be a positive integer or -1 (until cleared)');
    }
    const e = { id: this.nextId, to: scopeKey(f.to), count, used: 0 };
    if (f.callbacks !== undefined) {
      if (f.status !== undefined || f.latencyMs !== undefined || f.drop !== undefined) {
        throw new FaultError('a callbacks override cannot be combined with status/latencyMs/drop');
      }
      e.kind = 'callbacks';
      e.callbacks = parseCallbacks(f.callbacks);
    } else {
      e.kind = 'response';
      if (f.status !== undefined) {
        if (!Number.isInteger(f.status) || f.status < 400 || f.status > 599) {
          throw new FaultError('status must be an HTTP error status (400-599)');
        }
        if (f.drop) throw new FaultError('status and drop exclude each other');
        e.status = f.status;
        if (f.code !== undefined) e.code = f.code;
        if (f.message !== undefined) e.message = String(f.message);
      }
      if (f.latencyMs !== undefined) {
        if (!Number.isFinite(f.latencyMs) || f.latencyMs < 0) throw new FaultError('latencyMs must be >= 0');
        e.latencyMs = f.latencyMs;
      }
      if (f.drop !== undefined) e.drop = !!f.drop;
      if (e.status === undefined && e.latencyMs === undefined && !e.drop) {
        throw new FaultError('a fault needs status, latencyMs, drop or callbacks');
      }
      if (f.created !== undefined) {
        // Twilio took the message, but its answer is lost or an error (a 502 from its edge):
        // the ambiguous case a sender must not answer with a blind resend.
        if (typeof f.created !== 'boolean') throw new FaultError('created must be true or false');
        if (f.created && e.status === undefined && !e.drop) {
          throw new FaultError('created goes with status or drop');
        }
        e.created = f.created;
      }
    }
    this.nextId += 1;
    return e;
  }

  // Consumes and returns the first matching entry of `kind` for a message to `to`, or null.
  take(kind, to) {
    const key = scopeKey(to);
    const i = this.entries.findIndex((e) => e.kind === kind && (e.to === null || e.to === key));
    if (i < 0) return null;
    const e = this.entries[i];
    e.used += 1;
    if (e.count !== -1 && e.used >= e.count) this.entries.splice(i, 1);
    return e;
  }

  list() {
    return this.entries.map((e) => ({ ...e, remaining: e.count === -1 ? -1 : e.count - e.used }));
  }

  clear() { this.entries = []; }
}
