// templates.mjs - the simulator's Content API catalogue (content.twilio.com/v1): templates with
// their WhatsApp approval, listed the way GET /v1/ContentAndApprovals lists them. The shapes follow
// Twilio's content_v1 OpenAPI document (vendor/twilio-oai/twilio_content_v1.json), which the
// tests validate every page against; the approval object's fields are Twilio's WhatsApp approval
// fetch (name, category, content_type, status, rejection_reason, allow_category_change).
import fs from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { SIM_DIR } from './spec.mjs';
import path from 'node:path';

export const CONTENT_SPEC_PATH = path.resolve(SIM_DIR, 'vendor/twilio-oai/twilio_content_v1.json');
export const LIST_PATH = '/v1/ContentAndApprovals';
const SID = /^HX[0-9a-fA-F]{32}$/;
const CATEGORIES = new Set(['UTILITY', 'MARKETING', 'AUTHENTICATION']);
// WhatsApp's approval states as Twilio reports them.
const STATUSES = new Set(['approved', 'pending', 'received', 'rejected', 'paused', 'disabled', 'unsubmitted']);

// What `make run` and the tests send without a catalogue of their own: the re-engagement
// template of scripts/env.sh and the template the end-to-end tests use are approved; one
// marketing template, one rejected and one never submitted show the other states.
export const SEED = [
  { sid: 'HX00000000000000000000000000000001', name: 'reengage_hello', category: 'UTILITY', status: 'approved',
    body: 'Hi {{1}}, we have a reply for you. Answer this message to read it.', variables: { 1: 'there' } },
  { sid: 'HX0123456789abcdef0123456789abcdef', name: 'appointment_reminder', category: 'UTILITY', status: 'approved',
    body: 'Hello {{1}}, your appointment is on {{2}}.', variables: { 1: 'Dana', 2: '12/1' } },
  { sid: 'HX00000000000000000000000000000002', name: 'spring_sale', category: 'MARKETING', status: 'approved',
    body: 'Spring sale: {{1}} off everything this week.', variables: { 1: '20%' } },
  { sid: 'HX00000000000000000000000000000003', name: 'win_back', category: 'MARKETING', status: 'rejected',
    body: 'We miss you! Come back for {{1}}.', variables: { 1: 'a gift' },
    rejectionReason: 'Template content violates WhatsApp policy' },
  { sid: 'HX00000000000000000000000000000004', name: 'draft_notice', category: 'UTILITY', status: 'unsubmitted',
    body: 'Draft: {{1}}', variables: { 1: 'x' } },
];

export class TemplateError extends Error {}

// One template from a /sim/templates body or a seed: checked, with defaults.
function normalize(t, now) {
  if (!t || typeof t !== 'object') throw new TemplateError('a template is an object');
  if (!SID.test(t.sid ?? '')) throw new TemplateError('sid: HX and 32 hex digits');
  if (typeof t.name !== 'string' || !/^[a-z0-9_]{1,512}$/.test(t.name)) {
    throw new TemplateError('name: lowercase letters, digits and _ (WhatsApp template names)');
  }
  const category = t.category ?? 'UTILITY';
  if (!CATEGORIES.has(category)) throw new TemplateError(`category: one of ${[...CATEGORIES].join(', ')}`);
  const status = t.status ?? 'approved';
  if (!STATUSES.has(status)) throw new TemplateError(`status: one of ${[...STATUSES].join(', ')}`);
  if (typeof t.body !== 'string' || !t.body) throw new TemplateError('body: the template text');
  const variables = t.variables ?? {};
  if (typeof variables !== 'object' || Array.isArray(variables)
    || Object.values(variables).some((v) => typeof v !== 'string')) {
    throw new TemplateError('variables: an object of strings ({"1": "sample"})');
  }
  return { sid: t.sid, name: t.name, category, status, body: t.body, variables, language: t.language ?? 'en',
    rejectionReason: t.rejectionReason ?? '', createdMs: now, updatedMs: now };
}

export class TemplateCatalog {
  constructor(now = Date.now()) {
    this.bySid = new Map();
    for (const t of SEED) this.put(t, now);
  }

  // Adds or replaces one; returns it.
  put(body, now = Date.now()) {
    const t = normalize(body, now);
    const old = this.bySid.get(t.sid);
    if (old) t.createdMs = old.createdMs;
    this.bySid.set(t.sid, t);
    return t;
  }

  remove(sid) { return this.bySid.delete(sid); }

  reset(now = Date.now()) {
    this.bySid.clear();
    for (const t of SEED) this.put(t, now);
  }

  get(sid) { return this.bySid.get(sid); }

  // One item of ContentAndApprovals' `contents`.
  resource(t, accountSid) {
    return {
      date_created: new Date(t.createdMs).toISOString(),
      date_updated: new Date(t.updatedMs).toISOString(),
      sid: t.sid,
      account_sid: accountSid,
      friendly_name: t.name,
      language: t.language,
      variables: t.variables,
      types: { 'twilio/text': { body: t.body } },
      approval_requests: {
        name: t.name,
        category: t.category,
        content_type: 'twilio/text',
        status: t.status,
        rejection_reason: t.rejectionReason,
        allow_category_change: true,
      },
    };
  }

  // A page of GET /v1/ContentAndApprovals, oldest first; PageToken is an offset we hand out.
  page(base, query, accountSid) {
    const pageSize = Math.min(Math.max(Number(query.PageSize) || 50, 1), 1000);
    const offset = /^PT\d+$/.test(query.PageToken ?? '') ? Number(query.PageToken.slice(2)) : 0;
    const all = [...this.bySid.values()].sort((a, b) => a.createdMs - b.createdMs || (a.sid < b.sid ? -1 : 1));
    const items = all.slice(offset, offset + pageSize).map((t) => this.resource(t, accountSid));
    const url = (o) => `${base}${LIST_PATH}?PageSize=${pageSize}${o ? `&PageToken=PT${o}` : ''}`;
    return {
      contents: items,
      meta: {
        page: Math.floor(offset / pageSize),
        page_size: pageSize,
        first_page_url: url(0),
        previous_page_url: offset > 0 ? url(Math.max(offset - pageSize, 0)) : null,
        url: url(offset),
        next_page_url: offset + pageSize < all.length ? url(offset + pageSize) : null,
        key: 'contents',
      },
    };
  }
}

// The validator of a ContentAndApprovals page, from Twilio's document (for the tests).
export function loadContentSpec(specPath = CONTENT_SPEC_PATH) {
  const doc = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const schema = doc.paths?.[LIST_PATH]?.get?.responses?.['200']?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no GET ${LIST_PATH} 200 in ${specPath}`);
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  addFormats(ajv);
  ajv.addVocabulary(['components', 'x-twilio', 'example']);
  const validate = ajv.compile({ ...schema, components: { schemas: doc.components?.schemas ?? {} } });
  return (body) => ({ ok: validate(body), errors: validate.errors ?? [] });
}
