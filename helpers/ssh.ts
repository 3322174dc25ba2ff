/**
 * STUB (KUBE branch only): the exported types and class signatures of the team contract's helpers/ssh.ts, so
 * helpers/lab.ts and helpers/cilium.ts type-check before the TRANSPORT engineer's implementation is merged.
 * The lead takes the TRANSPORT engineer's file at merge; nothing here is an implementation.
 */
import type { Topology } from './topology.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: string | null;
  durationMs: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  sudo?: boolean;
  stdin?: string;
}

export class SshError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    message: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

export interface Background {
  stop(): Promise<ExecResult>;
  readonly output: string;
}

export interface SshHost {
  readonly name: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  run(command: string, opts?: ExecOptions): Promise<string>;
  background(command: string, opts?: { sudo?: boolean; signal?: AbortSignal }): Promise<Background>;
  waitReachable(timeoutMs: number): Promise<void>;
}

const NOT_MERGED = 'helpers/ssh.ts is a type stub in the KUBE branch; the TRANSPORT implementation replaces it at merge';

export class SshPool {
  constructor(
    readonly topology: Topology,
    readonly opts?: { maxConcurrentPerHost?: number; connectTimeoutMs?: number },
  ) {}
  host(_name: string): SshHost {
    throw new Error(NOT_MERGED);
  }
  close(): Promise<void> {
    return Promise.reject(new Error(NOT_MERGED));
  }
}
