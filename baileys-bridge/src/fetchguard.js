// The HTTP client Baileys fetches a /send mediaUrl with (its socket's `options.dispatcher`).
// The URL comes from the send API's caller, and the bridge fetches it from inside our network,
// so the client refuses loopback, private and link-local addresses (an SSRF guard, like
// media-worker's) and bodies over a size limit.
//
// The address is checked where the connection is made: in the lookup that the socket itself
// uses, so a name that resolves to a public address for a check and to a private one for the
// connection (DNS rebinding) gains nothing; an IP literal, which is never looked up, is checked
// before connecting. Every redirect hop connects through the same check.
import dns from 'node:dns';
import net from 'node:net';
import { Agent, buildConnector } from 'undici';

// Node's own BlockList does the range matching.
const blocked = new net.BlockList();
for (const [addr, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3],
]) blocked.addSubnet(addr, prefix, 'ipv4');
for (const [addr, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]]) {
  blocked.addSubnet(addr, prefix, 'ipv6');
}

/** True for an address the bridge must not fetch from (IPv4-mapped IPv6 counts as its IPv4). */
export function isPrivateAddress(ip) {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return blocked.check(mapped[1], 'ipv4');
  const family = net.isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) return blocked.check(ip, 'ipv6');
  return true; // not an address at all: refuse
}

export class MediaRefused extends Error {
  constructor(host, address) {
    super(`media URL refused: ${host} is a private address${address && address !== host ? ` (${address})` : ''}`);
    this.code = 'MEDIA_URL_REFUSED';
  }
}

/**
 * @param {object} o
 * @param {string[]} [o.privateHosts]  host names or addresses allowed to be private (development)
 * @param {number} o.maxBytes          the largest body accepted
 */
export function createMediaDispatcher({ privateHosts = [], maxBytes }) {
  const allowed = new Set(privateHosts.map((h) => h.toLowerCase()));
  const lookup = (hostname, options, callback) => {
    dns.lookup(hostname, options, (err, address, family) => {
      if (err) return callback(err);
      if (!allowed.has(hostname.toLowerCase())) {
        const all = Array.isArray(address) ? address.map((a) => a.address) : [address];
        const bad = all.find(isPrivateAddress);
        if (bad) return callback(new MediaRefused(hostname, bad));
      }
      return callback(null, address, family);
    });
  };
  const connector = buildConnector({ lookup });
  const connect = (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) && !allowed.has(host.toLowerCase()) && isPrivateAddress(host)) {
      return callback(new MediaRefused(host));
    }
    return connector(opts, callback);
  };
  return new Agent({ connect, maxResponseSize: maxBytes });
}
