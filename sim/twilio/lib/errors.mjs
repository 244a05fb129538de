// errors.mjs - Twilio's legacy REST error body and the codes the simulator uses.
// Shape (twilio-python tests/unit/http/test_http_client.py; twilio.com/docs/errors/<code>):
//   {"code":21211,"message":"...","more_info":"https://www.twilio.com/docs/errors/21211","status":400}

export function errorBody(status, code, message) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

// Synchronous errors: each code below was checked against its twilio.com/docs/api/errors page.
export const SYNC = {
  BAD_REQUEST: 20001,          // generic: any other spec violation
  AUTHENTICATE: 20003,         // 401
  NOT_FOUND: 20404,
  TOO_MANY_REQUESTS: 20429,
  INTERNAL: 20500,
  UNAVAILABLE: 20503,
  TO_INVALID: 21211,           // "Invalid 'To' Phone Number"
  BODY_REQUIRED: 21602,        // "Message body is required" (Body or MediaUrl; ContentSid for templates)
  FROM_REQUIRED: 21603,        // "A 'From' or 'MessagingServiceSid' parameter is required"
  TO_REQUIRED: 21604,          // "'To' phone number is required to send a Message"
  FROM_INVALID: 21606,         // "'From' ... not a valid message-capable Twilio phone number"
  STATUS_CALLBACK_INVALID: 21609,
  BODY_TOO_LONG: 21617,        // "The concatenated message body exceeds the 1600 character limit"
  MEDIA_URL_INVALID: 21620,
  TOO_MANY_MEDIA: 21623,
  CONTENT_SID_REQUIRED: 21654, // ContentVariables without ContentSid
  CONTENT_SID_INVALID: 21655,
  CONTENT_VARIABLES_INVALID: 21656,
  MESSAGING_SERVICE_INVALID: 21705,
  CHANNEL_MISMATCH: 21910,     // "Invalid 'From' and 'To' pair ... should be of the same channel"
};

// Codes an injected HTTP-status fault gets unless the fault names its own.
export const FAULT_CODES = { 400: 20001, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 502: 20500, 503: 20503, 504: 20500 };
export const FAULT_MESSAGES = {
  400: 'Bad request', 401: 'Authenticate', 404: 'Not Found', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

// Asynchronous errors, reported as ErrorCode/ErrorMessage in a failed/undelivered status callback.
export const ASYNC_TEXT = {
  63016: 'Failed to send freeform message because you are outside the allowed window. '
    + 'If you are using WhatsApp, please use a Message Template.',
  63019: 'Media failed to download',
  11751: 'Media exceeds messaging service size limit',
  63024: 'Invalid message recipient',
  // The title of twilio.com/docs/api/errors/63049 (a marketing template not delivered).
  63049: 'Meta chose not to deliver this WhatsApp marketing message',
  63003: 'Channel could not find To address',
  30008: 'Unknown error',
};
