/**
 * Kubernetes label selectors and IPv4 arithmetic, as the twin's Cilium models need them. Pure.
 *
 *   matchesSelector(selector, labels)   metav1.LabelSelector semantics: null/undefined = "no selector" (the caller
 *                                       decides what that means; Cilium: all), {} = everything, matchLabels AND
 *                                       matchExpressions (In, NotIn, Exists, DoesNotExist).
 *   validateSelector(selector)          the error LabelSelectorAsSelector would return, or null.
 *   ipv4ToNumber / numberToIpv4 / parseIpv4Cidr
 */
import ipaddr from 'ipaddr.js';

export interface LabelSelectorRequirement {
  key: string;
  /** In, NotIn, Exists, DoesNotExist (anything else is invalid). */
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: LabelSelectorRequirement[] | null;
}

/** The error apimachinery's LabelSelectorAsSelector gives for this selector, or null when it is valid. */
export function validateSelector(selector: LabelSelector | null | undefined): string | null {
  if (!selector) return null;
  for (const r of selector.matchExpressions ?? []) {
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) return `values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`;
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0)
          return `values: Invalid value: []string{${values.map((v) => JSON.stringify(v)).join(', ')}}: values set must be empty for exists and does not exist`;
        break;
      default:
        return `"${r.operator}" is not a valid label selector operator`;
    }
  }
  return null;
}

/**
 * Whether `labels` match `selector` (a non-null selector; an invalid selector matches nothing, as Cilium skips it
 * with an error). An empty selector matches everything (labels.Everything()).
 */
export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  if (validateSelector(selector) !== null) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = labels[r.key];
    switch (r.operator) {
      case 'In':
        if (!has || !(r.values ?? []).includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && (r.values ?? []).includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function isIpv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}

export function ipv4ToNumber(ip: string): number {
  if (!isIpv4(ip)) throw new Error(`"${ip}" is not an IPv4 address`);
  return ipaddr.IPv4.parse(ip).octets.reduce((n, o) => n * 256 + o, 0);
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** First and last address of an IPv4 CIDR (the host bits are masked off, as netip's Prefix.Masked()). */
export function parseIpv4Cidr(cidr: string): { from: number; to: number; bits: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) throw new Error(`"${cidr}" is not an IPv4 CIDR`);
  const bits = Number(m[2]);
  const size = 2 ** (32 - bits);
  const from = Math.floor(ipv4ToNumber(m[1]!) / size) * size;
  return { from, to: from + size - 1, bits };
}
