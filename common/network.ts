/**
 * Where a health check must never go. Health URLs come from whoever may start a runbook (a Slack
 * user, an alert annotation) and the worker fetches them from inside the cluster, reporting status
 * and a body excerpt back to Slack: pointed at a cloud's instance-metadata service, that would
 * hand node credentials to anyone in the channel. Link-local addresses (169.254.0.0/16, fe80::/10)
 * and the metadata services' names are refused; loopback and cluster addresses stay allowed,
 * because checking internal services is the point. Pure, so the runbook schemas (at the edge) and
 * the health-check activity (on every resolved address and redirect) share one rule.
 */

const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** Alibaba Cloud's metadata address, and AWS's IPv6 one: not link-local, still metadata. */
const METADATA_ADDRESSES = new Set(['100.100.100.200', 'fd00:ec2::254']);

/** Why a host (URL hostname or resolved address) is off limits for health checks; undefined when it is fine. */
export function forbiddenHealthCheckHost(hostname: string): string | undefined {
  const host = hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (METADATA_HOSTS.has(host) || METADATA_ADDRESSES.has(host)) return `${host} is a cloud metadata service`;
  const ipv4 = mappedIpv4(host) ?? host;
  if (/^169\.254\.\d{1,3}\.\d{1,3}$/.test(ipv4) || METADATA_ADDRESSES.has(ipv4)) {
    return `${hostname} is link-local, where clouds serve instance metadata and credentials`;
  }
  if (/^fe[89ab][0-9a-f]?:/.test(host)) return `${hostname} is an IPv6 link-local address`;
  return undefined;
}

/** `::ffff:169.254.169.254`, or the same as the URL parser writes it, `::ffff:a9fe:a9fe`. */
function mappedIpv4(host: string): string | undefined {
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(host);
  if (dotted) return dotted[1];
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!hex) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
