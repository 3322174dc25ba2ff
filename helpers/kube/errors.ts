/**
 * Kubernetes API errors as the harness reports them: KubeApiError names what was attempted, toKubeError turns
 * whatever @kubernetes/client-node threw into one, isRetriableKubeError says which are worth another try.
 */
import { ApiException } from '@kubernetes/client-node';
import { isTransient } from '../wait/retry.ts';

const HINTS: Record<number, string> = {
  401: ' (the API server did not accept the credentials: check LAB_KUBECONFIG, or the admin.conf fetched from the control plane)',
  403: ' (the kubeconfig user is not allowed to do this)',
  404: ' (not found)',
  409: ' (conflict with the object on the server)',
};

/** An API call that did not succeed, naming what was attempted. `code` is null when no HTTP answer came. */
export class KubeApiError extends Error {
  constructor(
    readonly what: string,
    readonly code: number | null,
    readonly reason: string | null,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    const status = code === null ? 'no answer' : `HTTP ${code}${reason ? ` ${reason}` : ''}`;
    super(`${what}: ${status}: ${detail}${code !== null ? (HINTS[code] ?? '') : ''}`, options);
    this.name = 'KubeApiError';
  }
}

export interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

function parseStatusBody(body: unknown): StatusBody | null {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 500) } : null;
    }
  }
  return body !== null && typeof body === 'object' ? body : null;
}

/** Turns whatever the client threw into a KubeApiError (kept as is when it already is one). */
export function toKubeError(err: unknown, what: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const status = parseStatusBody((err as ApiException<unknown>).body);
    const causes = (status?.details?.causes ?? []).map((c) => [c.field, c.message].filter(Boolean).join(': ')).filter(Boolean);
    const detail = [status?.message ?? (code === 401 ? 'Unauthorized' : 'no message'), ...causes].join('; ');
    return new KubeApiError(what, code, status?.reason ?? null, detail, { cause: err });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const statusCode = (e as { statusCode?: unknown }).statusCode;
  if (typeof statusCode === 'number') return new KubeApiError(what, statusCode, null, e.message, { cause: e });
  const ws = /Unexpected server response: (\d{3})/.exec(e.message);
  if (ws) return new KubeApiError(what, Number(ws[1]), null, e.message, { cause: e });
  const detail = e.name === 'AbortError' ? 'request timed out (aborted by the request deadline)' : e.message;
  return new KubeApiError(what, null, null, detail, { cause: e });
}

/** Transport hiccups, request deadlines and server overload are worth another try; answers like 404/409/401 are not. */
export function isRetriableKubeError(err: unknown): boolean {
  if (err instanceof KubeApiError) {
    if (err.code === null) return isTransient(err.cause) || /timed out|ECONNRESET|ECONNREFUSED|socket hang up/i.test(err.detail);
    return [429, 500, 502, 503, 504].includes(err.code);
  }
  return isTransient(err);
}

export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  const message = (err as { message?: unknown } | null)?.message;
  return new Error(typeof message === 'string' ? message : JSON.stringify(err));
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}
