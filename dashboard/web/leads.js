// The leads list (left column): search, pages by cursor, live updates from SSE events.

import { api, isQuiet } from './api.js';
import {
  h, providerBadge, windowsView, optoutsView, formatTime, formatFull, isoTime, coalesce, serialized,
} from './dom.js';

// More contacts than this touched in one burst of events: refetching each one would be a
// request storm, so the first page is fetched once and merged instead.
const MAX_SINGLE_REFETCH = 10;

/** The lead-list view of a message: what a row shows as its last message. */
export function lastMessageFrom(message) {
  if (!message) return null;
  return {
    direction: message.direction,
    provider: message.provider ?? null,
    type: message.type,
    text: message.text ?? null,
    status: message.status,
    error_code: message.error_code ?? null,
    template_name: message.template_name ?? message.template?.name ?? null, // a timeline's message has its template
    at_ms: message.at_ms ?? message.created_ms ?? message.timestamp_ms ?? null,
  };
}

// Why the router sent nothing, by the refusal's code, as a lead row says it.
const NOT_SENT = {
  outside_window: 'Not sent: outside 24h window',
  opted_out: 'Not sent: opted out',
  marketing_refused: 'Not sent: template refused by the contact',
};

/** Snippet of a last message: its text, else its template's name, else its type, else the router's refusal. */
function snippet(last) {
  if (!last) return 'No messages yet';
  if (!last.provider && last.status === 'failed') {
    return NOT_SENT[last.error_code] ?? (last.error_code ? `Not sent: ${last.error_code}` : 'Not sent');
  }
  if (last.text) return last.text;
  if (last.template_name) return `Template “${last.template_name}”`;
  return last.type ? `[${last.type}]` : '';
}

/**
 * Client-side version of the server's search, used only to decide whether a contact that an
 * event brought in belongs to the list being shown under a search. Phone numbers are also
 * compared digits-only so "972 50" finds "+972501234567".
 */
function matchesQuery(lead, query) {
  const needle = query.trim().toLowerCase();
  if (!needle) return true;
  const name = String(lead.name ?? '').toLowerCase();
  const phone = String(lead.phone ?? '').toLowerCase();
  if (name.includes(needle) || phone.includes(needle)) return true;
  const digits = needle.replace(/\D/g, '');
  return digits.length > 0 && phone.replace(/\D/g, '').includes(digits);
}

export class LeadList {
  /**
   * @param {object} els  listEl (#leads), moreBtn, statusEl (empty/loading text)
   * @param {object} cb   onSelect(id), onError(err)
   */
  constructor({ listEl, moreBtn, statusEl }, { onSelect, onError }) {
    this.listEl = listEl;
    this.moreBtn = moreBtn;
    this.statusEl = statusEl;
    this.onSelect = onSelect;
    this.onError = onError;

    this.leads = new Map(); // id (string) → lead object as the API sent it
    this.rows = new Map(); // id (string) → <li>
    this.query = '';
    this.next = null;
    this.loading = false;
    this.selectedId = null;
    // Bumped on every reset, so answers to an older search are dropped when they arrive late.
    this.generation = 0;
    this.abort = null;

    this.dirty = new Set(); // contact ids touched by events, refetched together
    this.flushSoon = coalesce(serialized(() => this.flush()), 300);

    this.listEl.addEventListener('click', (e) => {
      const button = e.target.closest('.lead[data-lead-id]');
      if (button) this.onSelect(button.dataset.leadId);
    });
    this.moreBtn.addEventListener('click', () => this.loadMore());

    // Infinite scroll: the "Load more" button doubles as the sentinel, so the list also works
    // with a keyboard, a screen reader, or a browser without IntersectionObserver.
    if ('IntersectionObserver' in window) {
      this.observer = new IntersectionObserver((entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
      }, { root: this.listEl.closest('.scroll') });
      this.observer.observe(this.moreBtn);
    }
  }

  /** New search text: start again from the first page. */
  setQuery(query) {
    if (query === this.query) return;
    this.query = query;
    this.reload();
  }

  /** Drop everything and load the first page for the current query. */
  async reload() {
    this.generation += 1;
    this.abort?.abort();
    this.leads.clear();
    this.rows.clear();
    this.listEl.replaceChildren();
    this.next = null;
    this.loading = false;
    await this.fetchPage(null);
  }

  async loadMore() {
    if (this.loading || !this.next) return;
    await this.fetchPage(this.next);
  }

  async fetchPage(cursor) {
    const generation = this.generation;
    this.loading = true;
    this.abort = new AbortController();
    this.listEl.setAttribute('aria-busy', 'true');
    this.paintStatus();
    try {
      const page = await api.leads(this.query, cursor, { signal: this.abort.signal });
      if (generation !== this.generation) return;
      for (const lead of page.leads ?? []) {
        // Live updates may already have put this lead higher up; the list order is by
        // activity, so the existing (newer) position wins.
        if (!this.leads.has(String(lead.id))) this.put(lead, 'append');
      }
      this.next = page.next ?? null;
    } catch (err) {
      if (!isQuiet(err) && generation === this.generation) this.onError(err);
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.listEl.removeAttribute('aria-busy');
        this.paintStatus();
        this.rearmObserver();
      }
    }
  }

  // The observer only reports changes; when a page does not fill the column the button stays
  // visible, so observe it again to get a fresh report and keep loading.
  rearmObserver() {
    if (!this.observer || !this.next) return;
    this.observer.unobserve(this.moreBtn);
    this.observer.observe(this.moreBtn);
  }

  paintStatus() {
    this.moreBtn.hidden = !this.next;
    this.moreBtn.disabled = this.loading;
    let text = '';
    if (this.loading && this.leads.size === 0) text = 'Loading leads…';
    else if (!this.loading && this.leads.size === 0) {
      text = this.query ? `No leads match “${this.query}”.` : 'No leads yet.';
    }
    this.statusEl.textContent = text;
    this.statusEl.hidden = text === '';
  }

  /** Insert or replace a lead's row. where: 'append' (paging), 'top' (new activity), 'keep'. */
  put(lead, where) {
    const id = String(lead.id);
    const old = this.rows.get(id);
    const row = this.renderRow(lead);
    this.leads.set(id, lead);
    this.rows.set(id, row);
    if (where === 'top') {
      old?.remove();
      this.listEl.prepend(row);
    } else if (old) old.replaceWith(row);
    else if (where === 'append') this.listEl.append(row);
    else this.listEl.prepend(row);
    this.paintStatus();
  }

  renderRow(lead) {
    const id = String(lead.id);
    const last = lead.last_message ?? null;
    const title = lead.name || lead.phone || `#${id}`;
    const optedOut = Array.isArray(lead.optouts) && lead.optouts.length > 0;
    const button = h('button', {
      type: 'button',
      class: 'lead',
      dataset: { leadId: id, provider: last?.provider ?? 'none', optedOut: optedOut ? 'true' : 'false' },
      'aria-current': id === this.selectedId ? 'true' : null,
    },
      h('span', { class: 'lead-top' },
        h('span', { class: 'lead-name' }, title),
        last ? providerBadge(last.provider) : null),
      lead.name ? h('span', { class: 'lead-phone' }, lead.phone ?? '') : null,
      h('span', { class: 'lead-snippet', dataset: { direction: last?.direction ?? null } },
        last?.direction === 'outbound' ? h('span', { class: 'sr-only' }, 'Sent: ') : null,
        last?.direction === 'outbound' ? h('span', { class: 'dir', 'aria-hidden': 'true' }, '↗ ') : null,
        snippet(last)),
      optoutsView(lead),
      h('span', { class: 'lead-bottom' },
        windowsView(lead),
        last?.at_ms
          ? h('time', { datetime: isoTime(last.at_ms), title: formatFull(last.at_ms) }, formatTime(last.at_ms))
          : null));
    return h('li', {}, button);
  }

  /** Highlight the open lead (aria-current is what screen readers announce as "current"). */
  select(id) {
    this.selectedId = id === null ? null : String(id);
    for (const button of this.listEl.querySelectorAll('.lead[data-lead-id]')) {
      if (button.dataset.leadId === this.selectedId) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  /** A lead as known to the list (for the timeline header before its own fetch returns). */
  get(id) {
    return this.leads.get(String(id)) ?? null;
  }

  /**
   * An SSE event for a contact. Message events (a new inbound, a new outbound, a refused send)
   * are new activity: the row moves to the top at once. Everything else only refreshes the row.
   * In both cases the contact is refetched (coalesced) so the row ends up exactly as the server
   * has it, whatever the event carried.
   */
  noteEvent(type, event) {
    const id = event?.contact?.id;
    if (id === undefined || id === null) return;
    const key = String(id);
    const lead = this.leads.get(key);
    const activity = type === 'wa.inbound' || type === 'wa.outbound' || type === 'wa.error';

    if (lead && (type === 'wa.inbound' || type === 'wa.outbound') && event.message) {
      const last = lastMessageFrom({
        ...event.message,
        provider: event.provider === 'none' ? null : event.provider,
        at_ms: event.message.timestamp_ms ?? event.at_ms,
      });
      this.put({ ...lead, last_message: last }, 'top');
    } else if (lead && activity) {
      this.put(lead, 'top');
    } else if (lead && type === 'lead.update') {
      // The event carries the contact-level window only, not the per-channel ones: those come
      // with the refetch below (the row's `windows`), a few hundred milliseconds later.
      const c = event.contact;
      this.put({
        ...lead,
        name: c.profile_name ?? lead.name,
        last_inbound_provider: c.last_inbound_provider ?? lead.last_inbound_provider,
        window_closes_ms: c.window_open_until_ms ?? lead.window_closes_ms,
        window_open: Number.isFinite(c.window_open_until_ms)
          ? c.window_open_until_ms > Date.now() : lead.window_open,
      }, 'keep');
    }

    // A contact not in the list matters only when it has new activity (it belongs at the top);
    // a status for a lead further down than the loaded pages changes nothing visible.
    if (lead || activity) {
      this.dirty.add(key);
      this.flushSoon();
    }
  }

  async flush() {
    const ids = [...this.dirty];
    this.dirty.clear();
    if (ids.length === 0) return;
    const generation = this.generation;
    if (ids.length > MAX_SINGLE_REFETCH) {
      await this.mergeFirstPage(generation);
      return;
    }
    await Promise.all(ids.map((id) => this.refetchOne(id, generation)));
  }

  // The contact part of GET /api/leads/{id}/messages is a lead (with last_message), so one
  // message is enough to rebuild the row.
  async refetchOne(id, generation) {
    try {
      const page = await api.messages(id, null, 1);
      if (generation !== this.generation || !page.contact) return;
      const lead = { ...page.contact };
      if (!lead.last_message && page.messages?.length) lead.last_message = lastMessageFrom(page.messages[0]);
      if (this.leads.has(id)) this.put(lead, 'keep');
      else if (matchesQuery(lead, this.query)) this.put(lead, 'top');
    } catch (err) {
      if (!isQuiet(err)) this.onError(err);
    }
  }

  // After a burst: the first page is the truth for the top of the list; rows further down
  // stay as they were (they are re-sorted the next time the operator searches or reloads).
  async mergeFirstPage(generation) {
    try {
      const page = await api.leads(this.query, null);
      if (generation !== this.generation) return;
      const leads = page.leads ?? [];
      for (let i = leads.length - 1; i >= 0; i -= 1) this.put(leads[i], 'top');
      if (this.leads.size === leads.length) this.next = page.next ?? null;
      this.paintStatus();
    } catch (err) {
      if (!isQuiet(err)) this.onError(err);
    }
  }

  /** After an SSE reconnect events may have been missed: bring the top of the list up to date. */
  resync() {
    return this.mergeFirstPage(this.generation);
  }
}
