// spec.mjs - loads Twilio's vendored OpenAPI document and compiles validators for the
// "Send a message" operation (POST /2010-04-01/Accounts/{AccountSid}/Messages.json).
// The spec is read at start-up: its path comes from TWILIO_OAI_SPEC or defaults to the copy
// vendored in vendor/twilio-oai/ (see the README there for its source).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { isPhoneNumberLike } from './phone.mjs';

export const SIM_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_SPEC_PATH = path.resolve(SIM_DIR, 'vendor/twilio-oai/twilio_api_v2010.json');
export const MESSAGES_PATH = '/2010-04-01/Accounts/{AccountSid}/Messages.json';
const FORM = 'application/x-www-form-urlencoded';

export class SpecError extends Error {}

// RFC 2822 date as Twilio writes it: "Thu, 24 Aug 2023 05:01:45 +0000".
const RFC2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;

// Twilio's spec uses a few formats of its own beside the JSON-Schema ones ajv-formats knows.
function addTwilioFormats(ajv) {
  addFormats(ajv);
  ajv.addFormat('phone-number', { type: 'string', validate: isPhoneNumberLike });
  ajv.addFormat('date-time-rfc-2822', {
    type: 'string', validate: (s) => RFC2822.test(s) && !Number.isNaN(Date.parse(s)),
  });
  ajv.addFormat('currency', /^[A-Za-z]{3}$/);
  // "uri-map" sits on an object (subresource_uris); the type keyword already checks it.
  ajv.addFormat('uri-map', true);
}

function newAjv(options) {
  // strictTypes off only because the spec puts a string format ("uri-map") on an object;
  // the rest of strict mode stays on so a misread schema fails loudly.
  const ajv = new Ajv({ allErrors: true, strictTypes: false, ...options });
  addTwilioFormats(ajv);
  // OpenAPI annotations that are not JSON Schema keywords.
  ajv.addVocabulary(['components', 'x-twilio', 'example']);
  return ajv;
}

// `x-twilio: {ignoreFormat: true}` marks a format Twilio itself does not enforce (MediaUrl items);
// drop those formats so the validator behaves like the API. Twilio's own media-URL rule (an
// http(s) URL, error 21620) is applied by validate.mjs instead.
function withoutIgnoredFormats(schema) {
  const copy = structuredClone(schema);
  (function walk(node) {
    if (!node || typeof node !== 'object') return;
    if (node['x-twilio']?.ignoreFormat) delete node.format;
    for (const v of Object.values(node)) walk(v);
  })(copy);
  return copy;
}

export function loadSpec(specPath = process.env.TWILIO_OAI_SPEC || DEFAULT_SPEC_PATH) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  } catch (e) {
    const why = e.code === 'ENOENT' ? 'file not found' : (e.code ?? e.message);
    throw new SpecError(`Twilio OpenAPI spec unusable at ${specPath}: ${why} (set TWILIO_OAI_SPEC)`);
  }
  const op = doc.paths?.[MESSAGES_PATH]?.post;
  const requestSchema = op?.requestBody?.content?.[FORM]?.schema;
  const responseSchema = op?.responses?.['201']?.content?.['application/json']?.schema;
  if (!requestSchema || !responseSchema) {
    throw new SpecError(`Twilio OpenAPI spec at ${specPath} has no ${FORM} POST ${MESSAGES_PATH} with a 201`);
  }
  // $refs point at "#/components/schemas/..."; carrying the components along lets ajv resolve them.
  const components = { schemas: doc.components?.schemas ?? {} };

  // Form values are strings and repeated keys arrive as arrays: coerceTypes 'array' turns
  // "true" into true, "5" into 5, a lone MediaUrl into [url] and a one-item array into a scalar.
  const requestAjv = newAjv({ coerceTypes: 'array' });
  const validateRequest = requestAjv.compile({ ...withoutIgnoredFormats(requestSchema), components });
  // Responses are checked exactly as sent: no coercion, so "num_media": 0 would fail.
  const responseAjv = newAjv({});
  const validateResponse = responseAjv.compile({ ...responseSchema, components });

  // The resource's property names, for checking that a body carries every field the spec lists
  // (the schema has no `required`, so validation alone would not notice a missing one).
  const ref = responseSchema.$ref?.replace(/^#\/components\/schemas\//, '');
  const messageProperties = Object.keys((ref ? components.schemas[ref] : responseSchema)?.properties ?? {});

  return {
    path: specPath,
    messageProperties,
    info: doc.info,
    requestSchema,
    accountSidPattern: new RegExp(op.parameters?.find((p) => p.name === 'AccountSid')?.schema?.pattern
      ?? '^AC[0-9a-fA-F]{32}$'),
    // Both return {ok, errors}; validateCreateParams returns the coerced copy as `data`.
    validateCreateParams(params) {
      const data = structuredClone(params);
      const ok = validateRequest(data);
      return { ok, data, errors: ok ? [] : validateRequest.errors };
    },
    validateMessageResource(body) {
      const ok = validateResponse(body);
      return { ok, errors: ok ? [] : validateResponse.errors };
    },
  };
}
