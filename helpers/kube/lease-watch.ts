/**
 * Watching a Lease's holder through the API server (the client's Watch): list, then watch from the list's
 * resourceVersion, resume from the last resourceVersion seen, relist on 410 Gone, reconnect with backoff.
 */
import { Watch, type KubeConfig, type V1Lease, type V1LeaseList } from '@kubernetes/client-node';
import type { Clock } from '../wait/retry.ts';
import { asError, KubeApiError, toKubeError, type StatusBody } from './errors.ts';

export interface LeaseHolderChange {
  holder: string | null;
  /** When the harness saw the change (ms epoch). */
  at: number;
  renewTime: string | null;
  transitions: number | null;
}

/**
 * The lease watcher's connection to the API server, as it changes (each change once, on the Kube clock):
 * - connected: a watch stream is open, starting from a fresh list (the first one, or the one after a relist);
 * - resumed: a watch stream is open again from the last resourceVersion seen (no change was missed);
 * - disconnected: the open watch ended (the server closed it, an ERROR event, a dropped connection; `error` says
 *   why, none when the server just ended it), or the watcher could not open one. Further failed attempts while it
 *   stays disconnected are not reported again (the backoff keeps retrying);
 * - relisted: after a 410 Gone the lease was listed again (its state then comes through onChange as usual).
 * Stopping the watch through its AbortSignal reports nothing.
 */
export type WatchConnectionState = 'connected' | 'disconnected' | 'resumed' | 'relisted';

export interface WatchConnectionEvent {
  /** When the harness saw it (ms epoch, Kube clock). */
  at: number;
  state: WatchConnectionState;
  error?: string;
}

export interface WatchLeaseOptions {
  /** Server-side timeout of one watch request (default 240 s). */
  timeoutSeconds?: number;
  /** First delay before another try after a failure (default 500 ms), doubled per failure up to maxReconnectDelayMs (default 10 s). */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Told when the watch is opened, resumed, lost, or relisted after 410 Gone (see WatchConnectionState). */
  onConnection?: (e: WatchConnectionEvent) => void;
}

/** What the lease watch needs from the client: the kubeconfig, the clock, and a list call (with its retries). */
export interface LeaseWatchApi {
  kc: KubeConfig;
  clock: Clock;
  listLease(namespace: string, name: string): Promise<V1LeaseList>;
}

/** An ISO time from a Date or a non-empty string; null otherwise. */
export function isoOf(v: unknown): string | null {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' && v !== '' ? v : null;
}

/**
 * Reports the lease's holder now and on every change, each change once, with the time the harness saw it, until
 * `signal` aborts (then resolves). Implementation: list (field selector on the name) for the current state and a
 * resourceVersion, then watch from there; when the server ends the watch, watch again from the last
 * resourceVersion seen; on 410 Gone, list again. Transport errors reconnect with backoff; 401/403 reject.
 * A missing or deleted lease, or an empty holderIdentity, is reported as holder null.
 * `o.onConnection` is told when the watch opens, is lost and comes back (see WatchConnectionState), so a
 * timeline can tell "nothing changed" from "the harness was not listening".
 */
export async function watchLeaseHolder(
  api: LeaseWatchApi,
  namespace: string,
  name: string,
  onChange: (e: LeaseHolderChange) => void,
  signal: AbortSignal,
  o: WatchLeaseOptions = {},
): Promise<void> {
  const timeoutSeconds = o.timeoutSeconds ?? 240;
  const baseDelay = o.reconnectDelayMs ?? 500;
  const maxDelay = o.maxReconnectDelayMs ?? 10_000;
  const what = `watch Lease ${namespace}/${name}`;
  let last: string | null | undefined;
  let rv: string | undefined;
  let failures = 0;

  const report = (lease: V1Lease | null): void => {
    const holder = lease?.spec?.holderIdentity || null;
    if (holder === last) return;
    last = holder;
    onChange({ holder, at: api.clock.now(), renewTime: isoOf(lease?.spec?.renewTime), transitions: lease?.spec?.leaseTransitions ?? null });
  };

  // Connection state, reported on changes only: a watch open from a fresh list, resumed from rv, or lost.
  let fromList = false;
  let relisting = false;
  let lost = false;
  const tell = (state: WatchConnectionState, error?: string): void => {
    o.onConnection?.({ at: api.clock.now(), state, ...(error !== undefined ? { error } : {}) });
  };
  const opened = (): void => {
    tell(fromList ? 'connected' : 'resumed');
    fromList = false;
    lost = false;
  };
  const disconnected = (error?: string): void => {
    if (lost) return;
    lost = true;
    tell('disconnected', error);
  };

  while (!signal.aborted) {
    try {
      if (rv === undefined) {
        const list = await api.listLease(namespace, name);
        if (relisting) tell('relisted');
        relisting = false;
        report(list.items[0] ?? null);
        rv = list.metadata?.resourceVersion;
        fromList = true;
      }
      let gone: (StatusBody & { code?: number }) | undefined;
      let errorEvent: (StatusBody & { code?: number }) | undefined;
      let events = 0;
      await watchOnce(
        api.kc,
        `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`,
        { fieldSelector: `metadata.name=${name}`, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
        (type, obj) => {
          const o2 = obj as V1Lease & { code?: number };
          if (type === 'ERROR') {
            if (o2.code === 410) gone = obj as StatusBody & { code?: number };
            else errorEvent = obj as StatusBody & { code?: number };
            return 'stop';
          }
          events++;
          const objRv = o2.metadata?.resourceVersion;
          if (objRv) rv = objRv;
          if (type === 'ADDED' || type === 'MODIFIED') report(o2);
          else if (type === 'DELETED') report(null);
          failures = 0;
          return undefined;
        },
        signal,
        (timeoutSeconds + 15) * 1000,
        opened,
      );
      if (signal.aborted) break;
      if (gone) {
        disconnected(new KubeApiError(what, 410, gone.reason ?? null, `${gone.message ?? 'ERROR event'} (listing again)`).message);
        rv = undefined;
        relisting = true;
      } else if (errorEvent)
        throw new KubeApiError(what, errorEvent.code ?? null, errorEvent.reason ?? null, errorEvent.message ?? 'ERROR event');
      else {
        disconnected();
        if (events === 0) {
          // Ended without a single event or bookmark: back off before the next watch instead of spinning.
          failures++;
          await api.clock.sleep(Math.min(baseDelay * 2 ** (failures - 1), maxDelay), signal).catch(() => undefined);
        }
      }
    } catch (err) {
      if (signal.aborted) break;
      const e = toKubeError(err, what);
      disconnected(e.message);
      if (e.code === 401 || e.code === 403) throw e;
      failures++;
      const delay = Math.min(baseDelay * 2 ** (failures - 1), maxDelay);
      await api.clock.sleep(delay, signal).catch(() => undefined);
    }
  }
}

/**
 * One watch request; resolves when the server ends it (or `onEvent` says stop, or `signal` aborts). `onOpen` is
 * called once when the server accepted the watch (HTTP 200, before its first event), never when it did not.
 */
function watchOnce(
  kc: KubeConfig,
  apiPath: string,
  query: Record<string, string | number | boolean | undefined>,
  onEvent: (type: string, obj: unknown) => 'stop' | undefined,
  signal: AbortSignal,
  maxMs: number,
  onOpen: () => void = () => undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    let controller: AbortController | undefined;
    let stopping = false;
    let ended = false;
    let open = false;
    const opened = (): void => {
      if (open || ended || stopping) return;
      open = true;
      onOpen();
    };
    const stop = (): void => {
      stopping = true;
      controller?.abort();
    };
    const onAbort = (): void => {
      stop();
      resolve();
    };
    const guard = setTimeout(stop, maxMs);
    signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(guard);
      signal.removeEventListener('abort', onAbort);
    };
    const q = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined));
    new Watch(kc)
      .watch(
        apiPath,
        q,
        (type: string, obj: unknown) => {
          if (stopping) return;
          opened();
          if (onEvent(type, obj) === 'stop') stop();
        },
        (err: unknown) => {
          ended = true;
          cleanup();
          if (stopping || !err) resolve();
          else reject(asError(err));
        },
      )
      .then((c) => {
        // Watch.watch returns only after the response: before `done` was called means the server said 200.
        controller = c;
        if (stopping) c.abort();
        else opened();
      })
      .catch((err: unknown) => {
        cleanup();
        reject(asError(err));
      });
  });
}
