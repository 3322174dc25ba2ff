/**
 * SSH to the lab machines: one persistent ssh2 connection per host, reused by every command.
 *
 * - The TCP socket has no-delay on (Nagle + delayed ACK otherwise cost ~40 ms per command).
 * - Several commands run at once on one connection, at most `maxConcurrentPerHost` (sshd's MaxSessions
 *   is 10 by default); the rest wait their turn, within their own deadline.
 * - A non-zero exit is RETURNED in `code`; only transport failures and deadlines throw, as SshError
 *   naming the host, the command and the cause.
 * - When a host goes away (reboot) the next command reconnects by itself, with backoff (p-retry through
 *   helpers/wait/retry.ts). A command that was running when the connection dropped is not re-run (it may have had
 *   effects): it fails with "connection lost" — unless its caller said it is `idempotent` (it only reads), then it
 *   runs once more on a fresh connection within its deadline. A command whose channel could not even be opened on a
 *   connection that turned out dead is retried once on a fresh connection.
 * - Credentials and host-key policy come from the topology (helpers/transport/ssh-auth.ts).
 */
import { setMaxListeners } from 'node:events';
import net from 'node:net';
import { Client, type ClientChannel } from 'ssh2';
import { pollUntil, retryTransient } from '../wait/retry.ts';
import { credentialsFromTopology, hostKeyPolicy, type CredentialResolver } from './ssh-auth.ts';
import { node as nodeNamed, sshEndpoint, type LabNode, type Topology } from '../lab/topology.ts';
import { startBackground } from './background.ts';
import { linkedSignal, reasonOf, shellQuote, SshError, tail, type Background, type ExecOptions, type ExecResult } from './ssh-common.ts';

export { shellQuote, SshError, type Background, type ExecOptions, type ExecResult } from './ssh-common.ts';

export interface SshHost {
  readonly name: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** exec that throws SshError when the exit code is not 0 (stderr in the message). Returns stdout. */
  run(command: string, opts?: ExecOptions): Promise<string>;
  /** Long-running command (tcpdump, a probe loop): returns once started. */
  background(command: string, opts?: { sudo?: boolean; signal?: AbortSignal }): Promise<Background>;
  /** Waits (with deadline) until the host accepts SSH again, e.g. after a reboot. */
  waitReachable(timeoutMs: number): Promise<void>;
}

export interface SshPoolOptions {
  /** Commands at once on one connection. Default 8 (sshd allows 10 sessions per connection). */
  maxConcurrentPerHost?: number;
  /** Overrides the topology's credentials policy. */
  credentials?: CredentialResolver;
  /** TCP connect + SSH handshake deadline per attempt. Default 10 000. */
  connectTimeoutMs?: number;
  /** Backoff when (re)connecting. Default 8 retries, 250 ms doubling to at most 3 s. */
  reconnect?: { retries?: number; minTimeoutMs?: number; maxTimeoutMs?: number };
  /** Interval of SSH keepalives that detect a silently dead peer. Default 5 000 (3 missed = dead). */
  keepaliveIntervalMs?: number;
  /** Told when an idempotent command is run again after its connection was lost (default: nowhere). */
  log?: (line: string) => void;
}

export interface HostStats {
  /** Successful SSH handshakes so far (1 + reconnections). */
  connects: number;
  /** Commands running now / waiting for a slot now. */
  running: number;
  waiting: number;
  /** Most commands seen running at the same time. */
  peakRunning: number;
  /** Idempotent commands run again because the connection was lost while they ran. */
  rerunAfterLoss: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** One persistent connection per host, opened on first use. */
export class SshPool {
  readonly topology: Topology;
  private readonly hosts = new Map<string, PooledHost>();
  private readonly closing = new AbortController();
  private readonly settings: Required<Omit<SshPoolOptions, 'credentials' | 'reconnect' | 'log'>> & {
    log: (line: string) => void;
    credentials: CredentialResolver;
    reconnect: Required<NonNullable<SshPoolOptions['reconnect']>>;
  };

  constructor(topology: Topology, opts: SshPoolOptions = {}) {
    this.topology = topology;
    // Every command in flight listens on this signal; hundreds at once are normal, not a leak.
    setMaxListeners(10_000, this.closing.signal);
    this.settings = {
      maxConcurrentPerHost: opts.maxConcurrentPerHost ?? 8,
      credentials: opts.credentials ?? credentialsFromTopology(topology),
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
      log: opts.log ?? (() => undefined),
      reconnect: { retries: 8, minTimeoutMs: 250, maxTimeoutMs: 3_000, ...opts.reconnect },
    };
    if (this.settings.maxConcurrentPerHost < 1) throw new Error('SshPool: maxConcurrentPerHost must be at least 1');
  }

  /** The host by its topology name. Connects lazily, on the first command. */
  host(name: string): SshHost {
    if (this.closing.signal.aborted) throw new Error(`SshPool is closed (asked for host ${name})`);
    let h = this.hosts.get(name);
    if (!h) {
      h = new PooledHost(nodeNamed(this.topology, name), this.topology, this.settings, this.closing.signal);
      this.hosts.set(name, h);
    }
    return h;
  }

  stats(name: string): HostStats {
    const h = this.hosts.get(name);
    return h ? h.stats() : { connects: 0, running: 0, waiting: 0, peakRunning: 0, rerunAfterLoss: 0 };
  }

  /** Ends every connection. Commands still running fail with "connection lost". */
  async close(): Promise<void> {
    this.closing.abort(new Error('SshPool closed'));
    await Promise.all([...this.hosts.values()].map((h) => h.close()));
  }
}

// ---------------------------------------------------------------------------------------------

/** A counting semaphore whose waiters give up with their own signal. */
class Slots {
  private waiters: { grant: () => void }[] = [];
  running = 0;
  peak = 0;
  constructor(private readonly size: number) {}

  get waiting(): number {
    return this.waiters.length;
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.running >= this.size) {
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          grant: () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(reasonOf(signal));
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(waiter);
      });
    } else this.running++;
    this.peak = Math.max(this.peak, this.running);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.running--;
    };
  }
}

type Settings = SshPool['settings'];

/** Errors worth another connection attempt: the host is not (yet) there or dropped us mid-handshake. */
const CONNECT_RETRYABLE =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|ECONNABORTED|TCP connect|Connection lost before handshake|Timed out while waiting for handshake|connection closed during the SSH handshake|socket hang up|Not connected|No response from server/i;

function isConnectRetryable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return CONNECT_RETRYABLE.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`);
}

class PooledHost implements SshHost {
  readonly name: string;
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private readonly lost = new WeakSet<Client>();
  private readonly slots: Slots;
  private connects = 0;
  private rerunAfterLoss = 0;

  constructor(
    private readonly node: LabNode,
    private readonly topology: Topology,
    private readonly settings: Settings,
    private readonly poolClosing: AbortSignal,
  ) {
    this.name = node.name;
    this.slots = new Slots(settings.maxConcurrentPerHost);
  }

  stats(): HostStats {
    return {
      connects: this.connects,
      running: this.slots.running,
      waiting: this.slots.waiting,
      peakRunning: this.slots.peak,
      rerunAfterLoss: this.rerunAfterLoss,
    };
  }

  /** The command as sent: wrapped in `sudo -n` when asked and not already root. */
  private wrap(command: string, sudo: boolean | undefined): string {
    return sudo && this.topology.ssh.user !== 'root' ? `sudo -n -- sh -c ${shellQuote(command)}` : command;
  }

  // -- connection ------------------------------------------------------------------------------

  private connection(signal: AbortSignal): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connectWithRetry().finally(() => {
      this.connecting = null;
    });
    return abortable(this.connecting, signal);
  }

  private async connectWithRetry(): Promise<Client> {
    const { host, port } = sshEndpoint(this.node);
    const { retries, minTimeoutMs, maxTimeoutMs } = this.settings.reconnect;
    const client = await retryTransient(() => this.connectOnce(host, port), {
      what: `connect to ${host}:${port}`,
      retries,
      minTimeoutMs,
      maxTimeoutMs,
      signal: this.poolClosing,
      shouldRetry: isConnectRetryable,
    });
    this.client = client;
    this.connects++;
    client.on('close', () => {
      this.lost.add(client);
      if (this.client === client) this.client = null;
    });
    return client;
  }

  private async connectOnce(host: string, port: number): Promise<Client> {
    const creds = await this.settings.credentials(this.node);
    const policy = hostKeyPolicy(this.topology, host, port);
    const sock = await openSocket(host, port, this.settings.connectTimeoutMs);
    const client = new Client();
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        client.end();
        sock.destroy();
        if (policy.lastRefusal) reject(new Error(policy.lastRefusal, { cause: err }));
        else if (/authentication methods failed/i.test(err.message))
          reject(new Error(`authentication failed as ${creds.username} (${creds.source})`, { cause: err }));
        else reject(err);
      };
      client.on('error', fail);
      client.once('close', () => fail(new Error('connection closed during the SSH handshake')));
      client.once('ready', () => {
        settled = true;
        client.removeListener('error', fail);
        // Errors after the handshake surface as a lost connection on the commands running then.
        client.on('error', () => undefined);
        resolve(client);
      });
      client.connect({
        sock,
        username: creds.username,
        ...(creds.privateKey ? { privateKey: creds.privateKey } : {}),
        ...(creds.password !== undefined ? { password: creds.password } : {}),
        readyTimeout: this.settings.connectTimeoutMs,
        keepaliveInterval: this.settings.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => policy.verify(key),
      });
    });
  }

  /** Opens an exec channel, retrying once on a fresh connection when the current one turns out dead. */
  private async openChannel(command: string, signal: AbortSignal): Promise<{ client: Client; stream: ClientChannel }> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connection(signal);
      const opening = new Promise<ClientChannel>((resolve, reject) => {
        client.exec(command, (err, s) => (err ? reject(err) : resolve(s)));
      });
      try {
        const stream = await abortable(opening, signal);
        return { client, stream };
      } catch (err) {
        if (signal.aborted) {
          // Given up while sshd was starting the command: end it if it does start.
          opening.then(
            (s) => {
              signalSession(s, 'TERM');
              s.close();
            },
            () => undefined,
          );
          throw err;
        }
        if (attempt > 0 || !(this.lost.has(client) || isConnectRetryable(err))) throw err;
        this.lost.add(client);
        if (this.client === client) this.client = null;
        client.end();
      }
    }
  }

  async close(): Promise<void> {
    const c = this.client ?? (await this.connecting?.catch(() => null)) ?? null;
    this.client = null;
    if (!c) return;
    await new Promise<void>((resolve) => {
      if (this.lost.has(c)) return resolve();
      const t = setTimeout(resolve, 2_000);
      c.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      c.end();
    });
  }

  // -- commands --------------------------------------------------------------------------------

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const link = linkedSignal([this.poolClosing, opts.signal], timeoutMs);
    const why = (): string =>
      link.timedOut()
        ? `timed out after ${timeoutMs} ms`
        : this.poolClosing.aborted
          ? 'the SSH pool was closed'
          : `aborted (${reasonOf(link.signal).message})`;
    let release: (() => void) | undefined;
    try {
      release = await this.slots.acquire(link.signal);
      for (let attempt = 0; ; attempt++) {
        const { client, stream } = await this.openChannel(this.wrap(command, opts.sudo), link.signal);
        try {
          return await this.collect(client, stream, command, { stdin: opts.stdin, signal: link.signal, started, why });
        } catch (err) {
          // Lost mid-command: only a command that may run twice runs again, once, on a fresh connection.
          // ssh2 may close the channel a moment before it reports the connection closed.
          if (err instanceof SshError && !this.lost.has(client)) await new Promise((r) => setImmediate(r));
          const lost = err instanceof SshError && this.lost.has(client) && !link.signal.aborted;
          if (!lost || !opts.idempotent || attempt > 0) throw err;
          this.rerunAfterLoss++;
          this.settings.log(`ssh ${this.name}: connection lost while \`${command}\` ran; running it again (it only reads)`);
        }
      }
    } catch (err) {
      if (err instanceof SshError) throw err;
      const reason = link.signal.aborted ? `${why()} (before the command started)` : (err as Error).message;
      throw new SshError(this.name, command, reason, { cause: err });
    } finally {
      release?.();
      link.dispose();
    }
  }

  /** Runs an open channel to its end. `sink` lets background() read the output while it arrives. */
  private collect(
    client: Client,
    stream: ClientChannel,
    command: string,
    o: { stdin: string | undefined; signal: AbortSignal; started: number; why: () => string },
    sink: { out: Buffer[]; err: Buffer[]; onData(): void } = { out: [], err: [], onData: () => undefined },
  ): Promise<ExecResult> {
    const { out, err } = sink;
    let code: number | null = null;
    let sig: string | null = null;
    let exited = false;
    const result = (): ExecResult => ({
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      code,
      signal: sig,
      durationMs: Date.now() - o.started,
    });
    return new Promise<ExecResult>((resolve, reject) => {
      const onAbort = (): void => {
        // TERM rather than KILL: sudo passes TERM on to the root command it runs, a KILL would only end sudo.
        signalSession(stream, 'TERM');
        stream.close();
        reject(new SshError(this.name, command, o.why(), { result: result() }));
      };
      stream.on('data', (d: Buffer) => {
        out.push(d);
        sink.onData();
      });
      stream.stderr.on('data', (d: Buffer) => {
        err.push(d);
        sink.onData();
      });
      stream.on('exit', (c: number | null, s?: string) => {
        exited = true;
        code = typeof c === 'number' ? c : null;
        sig = s ?? null;
      });
      // ssh2 repeats the exit status on 'close': a fast command's whole answer can arrive in one read,
      // before this function attached its 'exit' listener.
      stream.on('close', (c?: number | null, s?: string) => {
        o.signal.removeEventListener('abort', onAbort);
        if (!exited && typeof c === 'number') {
          exited = true;
          code = c;
        } else if (!exited && c === null && typeof s === 'string') {
          exited = true;
          sig = s;
        }
        if (exited) return resolve(result());
        const reason = this.lost.has(client) ? 'connection lost while the command ran' : 'channel closed without an exit status';
        reject(new SshError(this.name, command, reason, { result: result() }));
      });
      if (o.signal.aborted) return onAbort();
      o.signal.addEventListener('abort', onAbort, { once: true });
      stream.end(o.stdin ?? undefined);
    });
  }

  async run(command: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) {
      const detail = r.stderr.trim() || r.stdout.trim();
      const how = r.code === null ? `ended by signal ${r.signal ?? '?'}` : `exited with code ${r.code}`;
      throw new SshError(this.name, command, `${how}${detail ? `: ${tail(detail)}` : ''}`, { result: r });
    }
    return r.stdout;
  }

  async background(command: string, opts: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<Background> {
    return startBackground(
      {
        name: this.name,
        closing: this.poolClosing,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        wrap: (c, sudo) => this.wrap(c, sudo),
        exec: (c, o) => this.exec(c, o),
        open: async (wrapped, signal) => {
          const release = await this.slots.acquire(signal);
          try {
            const { client, stream } = await this.openChannel(wrapped, signal);
            return { release, collect: (c, o, sink) => this.collect(client, stream, c, o, sink) };
          } catch (err) {
            release();
            throw err;
          }
        },
      },
      command,
      opts,
    );
  }

  async waitReachable(timeoutMs: number): Promise<void> {
    await pollUntil(
      `SSH on ${this.name} to accept a login and run a command`,
      async () => {
        try {
          const r = await this.exec('true', { timeoutMs: Math.min(timeoutMs, this.settings.connectTimeoutMs + 5_000) });
          return r.code === 0 ? { done: true, value: undefined } : { done: false, seen: `"true" exited with ${r.code}` };
        } catch (err) {
          return { done: false, seen: (err as Error).message };
        }
      },
      { timeoutMs, intervalMs: 1_000, signal: this.poolClosing },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/**
 * Asks sshd to signal the session's process group (OpenSSH >= 7.9 does `killpg`; it refuses for root
 * logins, which run without privilege separation, so this is best effort). ssh2's own
 * `Channel.signal()` refuses once our side has sent EOF, which exec always does at once (stdin closed),
 * so the request is sent through the channel's protocol object directly (ssh2 1.17 internals; the
 * netlab deadline test fails if this stops working). Servers without signal support ignore it.
 */
function signalSession(stream: ClientChannel, sig: string): void {
  const ch = stream as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, sig: string): void } };
  };
  if (ch.outgoing?.state !== 'open' && ch.outgoing?.state !== 'eof') return;
  try {
    ch._client?._protocol?.signal(ch.outgoing.id, sig);
  } catch {
    /* the connection is going away anyway */
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      // ssh2 adds its own error handling once it takes the socket; until then nothing may throw.
      sock.on('error', () => undefined);
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 10_000);
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
