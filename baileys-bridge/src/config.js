// Configuration from the environment, validated once at start.
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
// loadConfig() never throws: it returns { config, errors } so main.js can print
// one clear line per problem and exit 78 (EX_CONFIG).

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseListen(value, errors) {
  const m = /^([^:\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) {
    errors.push(`BRIDGE_LISTEN: expected host:port (e.g. 127.0.0.1:3001), got "${value}"`);
    return { host: '127.0.0.1', port: 3001 };
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function parseUrl(name, value, errors) {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return value.replace(/\/+$/, '');
  } catch {
    errors.push(`${name}: expected an http(s) URL, got "${value}"`);
    return null;
  }
}

function parseFlag(name, value, errors) {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  errors.push(`${name}: expected 0 or 1, got "${value}"`);
  return false;
}

function parsePositive(name, value, def, errors, { integer = false } = {}) {
  if (value === undefined || value === '') return def;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    errors.push(`${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
    return def;
  }
  return n;
}

export const DEFAULT_LOOPBACK_SELF = '972500000001';

/**
 * The loopback account's own number, as digits. Each loopback bridge of a stack gets its own, so
 * its messages are told apart by channel; the rule is ingress's (8 to 15 digits, no leading 0),
 * since every payload carries it as `self`.
 */
function parseLoopbackSelf(value, errors) {
  if (value === undefined || value === '') return DEFAULT_LOOPBACK_SELF;
  const digits = value.startsWith('+') ? value.slice(1) : value;
  if (!/^[1-9]\d{7,14}$/.test(digits)) {
    errors.push(`BAILEYS_LOOPBACK_SELF: expected a phone number in E.164 (+ or not, 8 to 15 digits, e.g. +972500000002), got "${value}"`);
    return DEFAULT_LOOPBACK_SELF;
  }
  return digits;
}

/**
 * BRIDGE_INGRESS_CA_FILE: PEM certificates to trust for an https INGRESS_URL besides Node's own
 * CA list (a private CA, or the local one of scripts/tls.sh). Returns the PEM text, or null.
 */
function parseCaFile(value, errors) {
  if (value === undefined || value === '') return null;
  let pem;
  try {
    pem = fs.readFileSync(value, 'utf8');
  } catch (err) {
    errors.push(`BRIDGE_INGRESS_CA_FILE: cannot read "${value}": ${err.code || err.message}`);
    return null;
  }
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no certificate');
    new X509Certificate(pem); // the first one must parse
  } catch {
    errors.push(`BRIDGE_INGRESS_CA_FILE: "${value}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return null;
  }
  return pem;
}

export function loadConfig(env = process.env) {
  const errors = [];
  const listenRaw = env.BRIDGE_LISTEN || '127.0.0.1:3001';
  const listen = parseListen(listenRaw, errors);

  const secret = env.BAILEYS_WEBHOOK_SECRET;
  if (!secret) errors.push('BAILEYS_WEBHOOK_SECRET: required (shared secret for ingress and the protected endpoints)');
  else if (secret.length < 8) errors.push('BAILEYS_WEBHOOK_SECRET: too short (at least 8 characters)');

  const ingressUrl = parseUrl('INGRESS_URL', env.INGRESS_URL || 'http://127.0.0.1:8080', errors);
  const ingressCa = parseCaFile(env.BRIDGE_INGRESS_CA_FILE, errors);
  const publicUrl = env.BRIDGE_PUBLIC_URL ? parseUrl('BRIDGE_PUBLIC_URL', env.BRIDGE_PUBLIC_URL, errors) : null;

  let waVersion = null;
  if (env.BAILEYS_WA_VERSION) {
    const parts = env.BAILEYS_WA_VERSION.split(/[,.]/).map((s) => s.trim());
    if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) {
      errors.push(`BAILEYS_WA_VERSION: expected three numbers like "2,3000,1027934701", got "${env.BAILEYS_WA_VERSION}"`);
    } else {
      waVersion = parts.map(Number);
    }
  }

  let pairingPhone = null;
  if (env.BAILEYS_PAIRING_PHONE) {
    const digits = env.BAILEYS_PAIRING_PHONE.replace(/[\s+\-()]/g, '');
    if (!/^\d{7,15}$/.test(digits)) errors.push(`BAILEYS_PAIRING_PHONE: expected an international phone number (digits, optional +), got "${env.BAILEYS_PAIRING_PHONE}"`);
    else pairingPhone = digits;
  }

  const loopbackSelf = parseLoopbackSelf(env.BAILEYS_LOOPBACK_SELF, errors);

  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) errors.push(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const config = {
    listen,
    secret: secret || '',
    // METRICS_TOKEN, as for the C services: a bearer token that opens GET /metrics (so does the
    // secret); without either, /metrics answers clients on this machine only.
    metricsToken: env.METRICS_TOKEN || '',
    ingressUrl,
    ingressCa, // PEM or null: trusted for ingress besides Node's CA list
    ingressCaFile: ingressCa ? env.BRIDGE_INGRESS_CA_FILE : null,
    publicUrl, // null → derived from the actual listening address
    stateDir: env.BRIDGE_STATE_DIR || './state',
    loopback: parseFlag('BAILEYS_LOOPBACK', env.BAILEYS_LOOPBACK, errors),
    loopbackSelf, // digits: the simulated account's own number
    pairingPhone,
    waVersion,
    groups: parseFlag('BRIDGE_GROUPS', env.BRIDGE_GROUPS, errors),
    sendRate: parsePositive('BRIDGE_SEND_RATE', env.BRIDGE_SEND_RATE, 5, errors),
    mediaTtlS: parsePositive('BRIDGE_MEDIA_TTL_S', env.BRIDGE_MEDIA_TTL_S, 86400, errors, { integer: true }),
    // A /send mediaUrl: at most this many bytes (101 MiB, media-worker's default), and never from a
    // private address unless its host is listed here (development: s3proxy on 127.0.0.1).
    mediaMaxBytes: parsePositive('BRIDGE_MEDIA_MAX_BYTES', env.BRIDGE_MEDIA_MAX_BYTES, 105906176, errors, { integer: true }),
    mediaPrivateHosts: (env.BRIDGE_MEDIA_PRIVATE_HOSTS || '').split(',').map((h) => h.trim()).filter(Boolean),
    // Inbound media: a file larger than this (100 MiB, the order of media-worker's limit) is
    // not stored; the message is forwarded with the item marked unavailable "too_large: …".
    inboundMediaMaxBytes: parsePositive('BRIDGE_INBOUND_MEDIA_MAX_BYTES', env.BRIDGE_INBOUND_MEDIA_MAX_BYTES, 104857600, errors, { integer: true }),
    logLevel,
    // Not in the table; tuning knobs with safe defaults (tests shrink them).
    outboxMaxBackoffMs: parsePositive('BRIDGE_OUTBOX_MAX_BACKOFF_MS', env.BRIDGE_OUTBOX_MAX_BACKOFF_MS, 30000, errors, { integer: true }),
    outboxBaseBackoffMs: parsePositive('BRIDGE_OUTBOX_BASE_BACKOFF_MS', env.BRIDGE_OUTBOX_BASE_BACKOFF_MS, 500, errors, { integer: true }),
  };
  return { config, errors };
}
