/**
 * Secret redaction for everything the harness writes into a report: attachments, step names, error
 * messages, JUnit output. Pure functions, no I/O.
 *
 * What counts as a secret here:
 * - kubeconfig credentials: `client-key-data`, `client-certificate-data`, `token`, `password`, `id-token`,
 *   `refresh-token`, `client-secret` (in YAML, JSON, `key=value`, or as a CLI flag `--token X`);
 * - `Authorization: Bearer …` / `Basic …` headers and loose `Bearer <token>` text;
 * - JSON Web Tokens (Kubernetes service-account tokens are JWTs) and kubeadm bootstrap tokens (`abcdef.0123456789abcdef`);
 * - PEM private-key blocks;
 * - passwords in URLs (`https://user:pass@host`) and in `curl -u user:pass`;
 * - every value of a Kubernetes Secret's `data` / `stringData` (structural redaction only: `redactValue`);
 * - any literal passed in `extraSecrets` (e.g. the lab's SSH password read from the environment).
 * `certificate-authority-data` is a public CA certificate and is kept: it helps to debug a kubeconfig.
 */

export const REDACTED = '[REDACTED]';

export interface RedactOptions {
  /** Literal values to remove wherever they appear (shorter than 4 characters are ignored). */
  extraSecrets?: readonly string[];
}

/** Word endings of keys whose value is a secret, after lower-casing and dropping `-`, `_` and `.`. */
const SECRET_KEY_ENDINGS = [
  'password',
  'passwd',
  'passphrase',
  'token',
  'secret',
  'clientkeydata',
  'clientcertificatedata',
  'privatekey',
  'apikey',
  'secretkey',
  'accesskey',
  'bearer',
  'credentials',
  'authorization',
];

/** True when a key (YAML/JSON/env/flag name) names a secret: `client-key-data`, `accessToken`, `LAB_SSH_PASSWORD`… */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.]/g, '');
  if (k === '' || k === 'secretname' || k.endsWith('secretref')) return false;
  return SECRET_KEY_ENDINGS.some((end) => k.endsWith(end));
}

/** Values that say nothing even when the key is secret-sounding: booleans, empties, references. */
function isHarmlessValue(v: string): boolean {
  const t = v.trim().replace(/^["']|["']$/g, '');
  return t === '' || /^(true|false|null|~|\{\}|\[\]|\[REDACTED\])$/i.test(t);
}

const KEY = String.raw`[A-Za-z_][\w.-]*`;

/** `key: value` (YAML) or `KEY=value` (env / helm --set / ini), one per line, key possibly quoted or list-dashed. */
const LINE_PAIR = new RegExp(String.raw`^(\s*(?:-\s+)?(["']?)(${KEY})\2\s*[:=][ \t]*)(.*)$`);
/** `"key": "value"` anywhere (compact JSON, logs). */
const JSON_PAIR = new RegExp(String.raw`("(${KEY})"\s*:\s*)"((?:[^"\\]|\\.)*)"`, 'g');
/** `--token X`, `--token=X`, `--password 'X'`; also `sshpass -p X`. */
const FLAG = new RegExp(String.raw`(--(${KEY})(?:=|[ \t]+))('[^']*'|"[^"]*"|[^\s'"]+)`, 'g');
const SSHPASS = /(\bsshpass\s+-p\s*)('[^']*'|"[^"]*"|\S+)/g;
/** curl's `-u user:password` / `--user=user:password`. */
const CURL_USER = /((?:^|\s)(?:-u|--user)(?:\s+|=)['"]?[^\s:'"]+:)(?!\[REDACTED\])([^\s'"]+)/g;
/** `key=value` pairs inside a line (helm `--set a=b,c.password=d`, URLs' query strings). */
const INLINE_ASSIGN = new RegExp(String.raw`(^|[\s,;&?])(${KEY})=([^\s,;&"']+)`, 'g');
const AUTH_HEADER = /\b((?:Proxy-)?Authorization\s*[:=]\s*["']?(?:Bearer|Basic|Token|Negotiate)?\s*)[^\s"',]+/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b/g;
const BOOTSTRAP_TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g;
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:)([^\s/@]+)(@)/gi;
/** `key: value` after an escaped newline (`\n`): YAML serialised inside a JSON string or a log line. */
const ESCAPED_LINE_PAIR = new RegExp(String.raw`(\\n\s*(?:-\s+)?(${KEY})\s*[:=][ \t]*)([^\s"\\]+)`, 'g');
/** kubeconfig credentials anywhere in a line, e.g. inside a JSON string with escaped newlines. */
const KUBECONFIG_CREDENTIAL =
  /\b(client-key-data|client-certificate-data|id-token|refresh-token|client-secret)(["']?\s*[:=]\s*["']?)(?!\[REDACTED\])[^\s"'\\,}]+/g;

function redactLines(text: string): string {
  const lines = text.split('\n');
  let blockIndent = -1; // > -1 while inside a `secret: |` block scalar
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (blockIndent >= 0) {
      const indent = line.length - line.trimStart().length;
      if (line.trim() === '' || indent > blockIndent) {
        if (line.trim() !== '') lines[i] = `${' '.repeat(indent)}${REDACTED}`;
        continue;
      }
      blockIndent = -1;
    }
    const m = LINE_PAIR.exec(line);
    if (!m) continue;
    const [, head = '', , key = '', value = ''] = m;
    if (!isSecretKey(key) || isHarmlessValue(value) || value.includes(REDACTED)) continue;
    if (/^[|>][+-]?\d*\s*$/.test(value.trim())) {
      blockIndent = line.length - line.trimStart().length;
      continue;
    }
    // Keep the trailing comma of a JSON-ish line.
    const tail = /,\s*$/.exec(value)?.[0] ?? '';
    const quoted = /^\s*"/.test(value) ? '"' : '';
    lines[i] = `${head}${quoted}${REDACTED}${quoted}${tail}`;
  }
  return lines.join('\n');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Removes secrets from any text (YAML, JSON, logs, command lines). Idempotent. */
export function redact(text: string, opts: RedactOptions = {}): string {
  let out = text;
  for (const s of opts.extraSecrets ?? []) {
    if (s.length >= 4) out = out.replace(new RegExp(escapeRegExp(s), 'g'), REDACTED);
  }
  out = out.replace(PEM_PRIVATE_KEY, `-----BEGIN $1PRIVATE KEY-----\n${REDACTED}\n-----END $1PRIVATE KEY-----`);
  out = out.replace(AUTH_HEADER, `$1${REDACTED}`);
  out = out.replace(BEARER, `$1${REDACTED}`);
  out = out.replace(JWT, REDACTED);
  out = out.replace(URL_PASSWORD, `$1${REDACTED}$3`);
  out = out.replace(KUBECONFIG_CREDENTIAL, `$1$2${REDACTED}`);
  out = out.replace(ESCAPED_LINE_PAIR, (all, head: string, key: string, value: string) =>
    isSecretKey(key) && !isHarmlessValue(value) ? `${head}${REDACTED}` : all,
  );
  out = out.replace(JSON_PAIR, (all, head: string, key: string, value: string) =>
    isSecretKey(key) && !isHarmlessValue(value) ? `${head}"${REDACTED}"` : all,
  );
  out = out.replace(FLAG, (all, head: string, key: string, value: string) =>
    isSecretKey(key) && !value.startsWith('-') ? `${head}${REDACTED}` : all,
  );
  out = out.replace(SSHPASS, `$1${REDACTED}`);
  out = out.replace(CURL_USER, `$1${REDACTED}`);
  out = redactLines(out);
  out = out.replace(INLINE_ASSIGN, (all, lead: string, key: string, value: string) =>
    isSecretKey(key) && !isHarmlessValue(value) ? `${lead}${key}=${REDACTED}` : all,
  );
  out = out.replace(BOOTSTRAP_TOKEN, REDACTED);
  return out;
}

function isKubeSecret(o: Record<string, unknown>): boolean {
  return o.kind === 'Secret' && (typeof o.apiVersion !== 'string' || o.apiVersion === 'v1');
}

/**
 * Structural redaction of a parsed object (a Kubernetes object, a kubeconfig, a JSON answer): values under
 * secret-sounding keys and every value of a Secret's `data`/`stringData` are replaced. Returns a copy.
 * Strings inside are also run through `redact` (a token in a log line inside an object).
 */
export function redactValue(value: unknown, opts: RedactOptions = {}): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, secretParent: boolean): unknown => {
    if (typeof v === 'string') return secretParent && !isHarmlessValue(v) ? REDACTED : redact(v, opts);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, secretParent));
    const o = v as Record<string, unknown>;
    const secretObject = isKubeSecret(o);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      const secret = secretParent || isSecretKey(k) || (secretObject && (k === 'data' || k === 'stringData'));
      out[k] = walk(x, secret);
    }
    return out;
  };
  return walk(value, false);
}
