// Kubernetes object-name rules, checked before any name taken from a finding
// reaches an API call or a log filter. Finding fields are attacker-influenced.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Namespaces and container names are DNS-1123 labels (max 63). */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** Pod and node names are DNS-1123 subdomains (max 253). */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** Label keys: optional DNS-1123 subdomain prefix + "/" + name (max 63, alnum ends). */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return false;
  return name.length > 0 && name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

/** Label values: empty, or max 63 alnum-bounded [-_.A-Za-z0-9]. */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value));
}

/** GCP project id (also the legacy domain-scoped form "example.com:my-project"). */
export function isProjectId(value: string): boolean {
  return /^([a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(value);
}

/** GCP location: a region or zone such as us-central1 or europe-west4-b. */
export function isGcpLocation(value: string): boolean {
  return /^[a-z][a-z0-9-]{1,62}[a-z0-9]$/.test(value);
}

/** GKE cluster names: lowercase letter first, letters/digits/hyphens, max 40. */
export function isGkeClusterName(value: string): boolean {
  return value.length <= 40 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value);
}
