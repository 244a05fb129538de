// The reply box under the open lead's timeline: the operator writes a text or picks an approved
// template, and the box says beforehand what will happen to it. What will happen is the server's
// answer (GET /api/leads/{id}/preview runs the router's own plan over the lead's windows,
// opt-outs and health): the page decides nothing about routing, it only words the answer.
// The reply goes to the dashboard's POST /api/leads/{id}/reply, which hands it to the send API
// like any application's request; the message then reaches the timeline through its events.
// A file attached to a text reply is uploaded first (POST /api/leads/{id}/media, under the
// reply's key: stored once however often it is sent), and the reply names it as media.mediaId,
// the text its caption.

import { api, isQuiet, Unauthorized } from './api.js';
import {
  channelLabel, providerLabel, formatRemaining, fillTemplate, coalesce, serialized, h, setChildren,
} from './dom.js';

/**
 * A fresh idempotency key. crypto.randomUUID() exists in secure contexts only (HTTPS, localhost);
 * behind plain HTTP elsewhere the same shape comes from getRandomValues, which exists everywhere.
 */
export function newKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A file's size in the words the server's refusals use (dashboard/reply.c, dash_size_words):
 * "812 bytes", "20.5 kB", "3.0 MB", so "huge.png · 3.0 MB" and "the most is 2.0 MB" compare.
 */
export function sizeWords(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

/** The preview's answer in the operator's words: [text, css state]. */
export function previewText(p) {
  const via = channelLabel(p.channel) || providerLabel(p.provider);
  if (!p.replies) return ['Replies are off: the dashboard has no send API token (DASHBOARD_SEND_TOKEN).', 'refused'];
  if (p.outcome === 'hold') {
    return [`Outside the 24-hour window: held until the contact replies; a re-engagement template goes via ${via} first.`, 'hold'];
  }
  if (p.outcome === 'refused') {
    if (p.code === 'opted_out') return [`Opted out: cannot send. The contact opted out of ${via || 'this number'}.`, 'refused'];
    if (p.code === 'outside_window' && p.kind === 'text') {
      return ['Outside the 24-hour window: pick a template.', 'refused'];
    }
    return [`Cannot send: ${p.reason}.`, 'refused'];
  }
  const left = Number.isFinite(p.window_until_ms) && p.window_until_ms > Date.now()
    ? ` · window open, ${formatRemaining(p.window_until_ms - Date.now())} left` : '';
  const failover = p.failover ? ' (failover)' : '';
  return [`Goes via ${via}${failover}: ${p.reason}${left}.`, 'send'];
}

export class ReplyBox {
  constructor(els, { onSent, onError }) {
    Object.assign(this, els);
    this.onSent = onSent;
    this.onError = onError;
    this.leadId = null;
    this.generation = 0;
    this.key = null; // made when the operator composes; kept until the reply is taken
    this.sending = false;
    this.preview = null;
    this.templates = [];
    this.file = null; // the file attached to a text reply, or null

    this.refreshSoon = coalesce(serialized(() => this.refreshPreview()), 150);
    // Composing makes the key: any change is another message, with a key of its own. Clicks
    // and retries of one composed message share its key, so the API sends it once.
    const changed = () => {
      this.key = newKey();
      this.paintButton();
    };
    this.textEl.addEventListener('input', changed);
    this.varsEl.addEventListener('input', () => {
      changed();
      this.paintTemplateBody();
    });
    for (const radio of this.kindEls) {
      radio.addEventListener('change', () => {
        changed();
        this.paintKind();
        this.refreshSoon();
      });
    }
    this.channelEl.addEventListener('change', () => {
      changed();
      this.refreshSoon();
    });
    this.fileEl.addEventListener('change', () => {
      changed();
      this.file = this.fileEl.files?.[0] ?? null;
      this.paintFile();
    });
    this.fileClearBtn.addEventListener('click', () => {
      changed();
      this.clearFile();
    });
    this.templateEl.addEventListener('change', () => {
      changed();
      this.paintVariables();
      this.refreshSoon();
    });
    this.formEl.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    // Enter sends, Shift+Enter is a new line: what chat boxes do.
    this.textEl.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
  }

  kind() {
    return this.kindEls.find((r) => r.checked)?.value === 'template' ? 'template' : 'text';
  }

  template() {
    return this.templates.find((t) => t.sid === this.templateEl.value) ?? null;
  }

  values() {
    const out = {};
    for (const input of this.varsEl.querySelectorAll('input[data-var]')) out[input.dataset.var] = input.value;
    return out;
  }

  async open(leadId) {
    this.generation += 1;
    this.leadId = String(leadId);
    this.key = null;
    this.sending = false;
    this.preview = null;
    this.textEl.value = '';
    this.resultEl.textContent = '';
    this.resultEl.removeAttribute('data-state');
    this.kindEls.forEach((r) => { r.checked = r.value === 'text'; });
    this.channelEl.value = '';
    this.clearFile();
    this.formEl.hidden = false;
    this.paintKind();
    this.paintPreview();
    const generation = this.generation;
    try {
      const catalogue = await api.templates();
      if (generation !== this.generation) return;
      this.templates = (catalogue.templates ?? []).filter((t) => t.status === 'approved');
      this.paintTemplates();
    } catch (err) {
      if (!isQuiet(err)) this.onError(err);
    }
    this.refreshSoon();
  }

  close() {
    this.generation += 1;
    this.leadId = null;
    this.formEl.hidden = true;
  }

  /** The lead changed (a reply, an opt-out, health): what will happen may have changed too. */
  noteEvent() {
    if (this.leadId !== null) this.refreshSoon();
  }

  async refreshPreview() {
    if (this.leadId === null) return;
    const generation = this.generation;
    const kind = this.kind();
    const params = { kind, channel: this.channelEl.value, template: kind === 'template' ? this.templateEl.value : '' };
    try {
      const p = await api.preview(this.leadId, params);
      if (generation !== this.generation) return;
      // An answer for what the box no longer shows is dropped; the newer request follows it.
      if (kind !== this.kind() || params.channel !== this.channelEl.value) return;
      this.preview = p;
      this.paintChannels(p.channels ?? []);
      this.paintPreview();
    } catch (err) {
      if (generation === this.generation && !isQuiet(err)) {
        this.preview = null;
        this.paintPreview('Cannot tell what would happen now; the page keeps trying.');
        this.onError(err);
      }
    }
  }

  paintChannels(channels) {
    const have = [...this.channelEl.options].map((o) => o.value).slice(1).join(',');
    if (have === channels.join(',')) return;
    const current = this.channelEl.value;
    setChildren(this.channelEl,
      h('option', { value: '' }, 'Automatic (as the router decides)'),
      channels.map((c) => h('option', { value: c }, channelLabel(c))));
    this.channelEl.value = channels.includes(current) ? current : '';
  }

  paintTemplates() {
    const current = this.templateEl.value;
    setChildren(this.templateEl,
      h('option', { value: '' }, this.templates.length ? 'Pick an approved template…' : 'No approved template'),
      this.templates.map((t) => h('option', { value: t.sid }, `${t.name} (${t.language ?? '?'}, ${String(t.category ?? '').toLowerCase()})`)));
    this.templateEl.value = this.templates.some((t) => t.sid === current) ? current : '';
    this.paintVariables();
  }

  paintVariables() {
    const t = this.template();
    const names = t ? Object.keys(t.variables ?? {}).sort((a, b) => Number(a) - Number(b)) : [];
    setChildren(this.varsEl, names.map((n) => h('label', { class: 'reply-var' },
      `{{${n}}} `,
      h('input', { type: 'text', dataset: { var: n }, placeholder: String(t.variables[n] ?? ''), maxlength: '1024', required: true }))));
    this.paintTemplateBody();
  }

  paintTemplateBody() {
    const t = this.template();
    this.templateBodyEl.textContent = t ? fillTemplate(t.body, this.values()) : '';
    this.paintButton();
  }

  paintKind() {
    const template = this.kind() === 'template';
    this.templateBoxEl.hidden = !template;
    this.textEl.hidden = template;
    // A template carries no file: the attachment belongs to a text reply (its text the caption).
    this.attachEl.hidden = template;
    this.paintButton();
  }

  clearFile() {
    this.file = null;
    this.fileEl.value = '';
    this.paintFile();
  }

  paintFile() {
    const f = this.file;
    this.fileNameEl.hidden = !f;
    this.fileClearBtn.hidden = !f;
    this.fileNameEl.textContent = f ? `${f.name} · ${sizeWords(f.size)}` : '';
    this.fileNameEl.title = f ? f.name : '';
    this.textEl.placeholder = f
      ? 'A caption for the file (optional)…'
      : 'Write a reply… (Enter sends, Shift+Enter a new line)';
    this.paintButton();
  }

  paintPreview(override) {
    const p = this.preview;
    if (override || !p) {
      this.previewEl.textContent = override ?? 'Checking what would happen…';
      this.previewEl.dataset.outcome = 'unknown';
      delete this.previewEl.dataset.code;
    } else {
      const [text, state] = previewText(p);
      this.previewEl.textContent = text;
      this.previewEl.dataset.outcome = state;
      if (p.code) this.previewEl.dataset.code = p.code;
      else delete this.previewEl.dataset.code;
    }
    this.paintButton();
  }

  /** What the operator composed is complete: a text, or a template with every value. */
  complete() {
    if (this.kind() === 'text') return this.file !== null || this.textEl.value.trim() !== '';
    const t = this.template();
    return Boolean(t) && Object.values(this.values()).every((v) => v.trim() !== '');
  }

  paintButton() {
    const p = this.preview;
    const sendable = p && p.replies && p.outcome !== 'refused' && p.kind === this.kind();
    this.sendBtn.disabled = this.sending || !sendable || !this.complete();
    this.sendBtn.textContent = this.sending ? 'Sending…' : 'Send';
  }

  /** The reply's body; mediaId names the file uploaded for it (a text reply with a file). */
  body(mediaId) {
    const body = { idempotencyKey: this.key, type: this.kind() };
    if (this.channelEl.value) body.channel = this.channelEl.value;
    if (mediaId) {
      body.type = 'media';
      body.media = { mediaId };
      if (this.textEl.value.trim() !== '') body.media.caption = this.textEl.value;
    } else if (body.type === 'text') body.text = this.textEl.value;
    else body.template = { contentSid: this.templateEl.value, variables: this.values() };
    return body;
  }

  /** The attached file stored under the reply's key: its mediaId, or null after showing why not. */
  async upload(generation) {
    this.resultEl.textContent = `Uploading ${this.file.name}…`;
    const { status, body } = await api.upload(this.leadId, this.file, this.key);
    if (generation !== this.generation) return null;
    if (status === 200 && body?.mediaId) return body.mediaId;
    this.resultEl.textContent = `Not sent: ${body?.message ?? `the file was refused (HTTP ${status})`}.`;
    this.resultEl.dataset.state = 'failed';
    this.resultEl.dataset.code = body?.error ?? String(status);
    return null;
  }

  async send() {
    // The button is disabled while a reply is on its way; a second click or Enter before that
    // lands here and stops. Were it sent anyway, its key is the same: the API sends it once.
    if (this.sending || this.sendBtn.disabled || this.leadId === null) return;
    this.key ??= newKey();
    this.sending = true;
    this.paintButton();
    this.resultEl.textContent = 'Sending…';
    this.resultEl.dataset.state = 'sending';
    delete this.resultEl.dataset.code;
    const generation = this.generation;
    try {
      const withFile = this.kind() === 'text' && this.file !== null;
      const mediaId = withFile ? await this.upload(generation) : null;
      if (generation !== this.generation || (withFile && !mediaId)) return;
      const { status, body } = await api.reply(this.leadId, this.body(mediaId));
      if (generation !== this.generation) return;
      this.showResult(status, body ?? {});
      if (status === 200 || status === 202) {
        // Taken: the box is for the next message.
        this.key = null;
        this.textEl.value = '';
        this.clearFile();
        for (const input of this.varsEl.querySelectorAll('input')) input.value = '';
        this.paintTemplateBody();
        this.onSent();
      }
    } catch (err) {
      if (err instanceof Unauthorized) return;
      // No answer: it may or may not have been taken. The key is kept, so sending again
      // cannot send it twice.
      this.resultEl.textContent = 'No answer from the dashboard: send again (the same reply is sent once).';
      this.resultEl.dataset.state = 'failed';
    } finally {
      if (generation === this.generation) {
        this.sending = false;
        this.paintButton();
        this.refreshSoon();
      }
    }
  }

  showResult(status, r) {
    let text;
    let state = 'sent';
    const via = channelLabel(r.channel) || (r.provider ? providerLabel(r.provider) : '');
    if (status === 200 && r.duplicate) text = 'Already sent: this reply was taken before, it is not sent again.';
    else if (status === 200 && r.status === 'failed') {
      state = 'failed';
      text = `Not sent: ${r.reason || r.errorText || r.errorCode || 'refused'}${r.errorCode ? ` (${r.errorCode})` : ''}.`;
    } else if (status === 200 && r.status === 'held') {
      state = 'held';
      text = `Held until the contact replies${via ? `; the re-engagement template goes via ${via}` : ''}.`;
    } else if (status === 200) text = `Sent to the router: ${r.status ?? 'queued'}${via ? ` via ${via}` : ''}.`;
    else if (status === 202) text = 'Accepted: the router decides in a moment; the timeline shows it.';
    else {
      state = 'failed';
      text = `Not sent: ${r.message ?? `HTTP ${status}`}`;
    }
    this.resultEl.textContent = text;
    this.resultEl.dataset.state = state;
  }
}
