/**
 * The stand-in programs of the twin hosts (helm, systemctl, reboot, shutdown, halt, poweroff, kubectl) and the
 * server that answers them.
 *
 * Every twin host's mount namespace has ONE stand-in script (per host, the host's name written into it)
 * bind-mounted over the machine's /usr/bin/systemctl, /usr/sbin/reboot, /usr/sbin/shutdown and /usr/bin/kubectl
 * (halt and poweroff are symlinks to systemctl here) and copied to /usr/local/sbin/helm (a tmpfs in the host's
 * mount namespace, on sudo's secure_path). The script sends {host, argv, stdin} with curl over a unix socket in
 * the twin's scratch directory to `StandInServer`, which calls the caller's `StandInHandler`, then prints the
 * answer's stdout and stderr and exits with its code. A twin host therefore never reaches the machine's own
 * programs.
 *
 * Wire format (kept shell-friendly): POST /call, body application/x-www-form-urlencoded with `h=<host>`, one
 * `a=<arg>` per argv entry (argv[0] = the program's name) and `i=<stdin>`; the answer's body is stdout, header
 * `x-code` the exit code, header `x-stderr` stderr in base64.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { StandInCall, StandInHandler, StandInResult } from '../contract.ts';

/** Where the stand-in replaces a program of the machine (bind mount in the host's mount namespace). */
export const STAND_IN_BIND_TARGETS = ['/usr/bin/systemctl', '/usr/sbin/reboot', '/usr/sbin/shutdown', '/usr/bin/kubectl'];
/** Programs the machine does not have, placed on sudo's secure_path (a tmpfs over /usr/local/sbin). */
export const STAND_IN_NEW_PROGRAMS = ['helm'];
/** Exit code of a stand-in that could not reach the twin (EX_SOFTWARE). */
export const UNREACHABLE_CODE = 70;
/** The stand-ins' scratch space: on the host's own /run tmpfs, so a call cut short by a reboot leaves nothing behind. */
export const STAND_IN_TMP = '/run/twin/tmp';

/** The shell script for `host`: argv[0] is the name it was called by. */
export function standInScript(host: string, socket: string): string {
  if (!/^[a-z0-9-]+$/.test(host)) throw new Error(`stand-in: bad host name "${host}"`);
  return `#!/bin/sh
# Lab twin stand-in on ${host}: forwards this call to the twin (test/twin/net/standins.ts); never the machine's program.
n=$(basename "$0")
c=$#
i=0
while [ "$i" -lt "$c" ]; do a=$1; shift; set -- "$@" --data-urlencode "a=$a"; i=$((i + 1)); done
t=$(mktemp -d ${STAND_IN_TMP}/standin.XXXXXX) || exit ${UNREACHABLE_CODE}
trap 'rm -rf "$t"' EXIT
if [ -t 0 ]; then set -- "$@" --data-urlencode "i="; else set -- "$@" --data-urlencode "i@-"; fi
if ! curl -sS --max-time 900 --unix-socket '${socket}' -o "$t/o" -D "$t/h" --data-urlencode "h=${host}" --data-urlencode "a=$n" "$@" http://twin/call; then
  echo "$n: the lab twin's stand-in server did not answer" >&2
  exit ${UNREACHABLE_CODE}
fi
code=$(sed -n 's/^[Xx]-[Cc]ode: *\\([0-9]*\\).*/\\1/p' "$t/h")
sed -n 's/^[Xx]-[Ss]tderr: *\\([A-Za-z0-9+\\/=]*\\).*/\\1/p' "$t/h" | base64 -d >&2
[ -f "$t/o" ] && cat "$t/o"
exit "\${code:-${UNREACHABLE_CODE}}"
`;
}

/** Shell commands (for a host's boot, in its private mount namespace) that put the stand-in in place. */
export function standInMounts(script: string): string[] {
  return [
    `mkdir -p ${STAND_IN_TMP}`,
    `chmod 1777 ${STAND_IN_TMP}`,
    'mount -t tmpfs -o mode=0755 tmpfs /usr/local/sbin',
    // Where the machine lacks the program, the stand-in still answers for it (on sudo's secure_path).
    ...STAND_IN_BIND_TARGETS.map(
      (t) => `if [ -e ${t} ]; then mount --bind ${script} ${t}; else cp ${script} /usr/local/sbin/${path.basename(t)}; fi`,
    ),
    ...STAND_IN_NEW_PROGRAMS.map((p) => `cp ${script} /usr/local/sbin/${p} && chmod 0755 /usr/local/sbin/${p}`),
  ];
}

/** Serves the stand-ins' unix socket; the handler can be set (or replaced) at any time. */
export class StandInServer {
  private handler: StandInHandler | null;
  private readonly server: http.Server;
  /** The most recent calls (at most 1000), oldest first. */
  readonly calls: StandInCall[] = [];

  constructor(
    readonly socket: string,
    handler: StandInHandler | null,
  ) {
    this.handler = handler;
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.answer(Buffer.concat(chunks).toString('utf8')).then((r) => {
          res.writeHead(200, {
            'x-code': String(r.code),
            'x-stderr': Buffer.from(r.stderr).toString('base64'),
            'content-type': 'application/octet-stream',
          });
          res.end(r.stdout);
        });
      });
      // The caller may be gone (its host rebooted mid-call): nothing to answer to.
      res.on('error', () => undefined);
      req.on('error', () => undefined);
    });
  }

  setHandler(handler: StandInHandler | null): void {
    this.handler = handler;
  }

  async listen(): Promise<void> {
    mkdirSync(path.dirname(this.socket), { recursive: true });
    rmSync(this.socket, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socket, () => resolve());
    });
    // The SSH user calls kubectl without sudo.
    chmodSync(this.socket, 0o666);
  }

  private async answer(body: string): Promise<StandInResult> {
    const form = new URLSearchParams(body);
    const call: StandInCall = { host: form.get('h') ?? '', argv: form.getAll('a'), stdin: form.get('i') ?? '' };
    this.calls.push(call);
    if (this.calls.length > 1_000) this.calls.splice(0, this.calls.length - 1_000); // the last 1000 are enough to inspect
    const name = call.argv[0] ?? '?';
    if (!this.handler) return { stdout: '', stderr: `${name}: no stand-in handler in this twin\n`, code: 127 };
    try {
      return await this.handler(call);
    } catch (err) {
      return {
        stdout: '',
        stderr: `${name}: twin stand-in handler failed: ${err instanceof Error ? err.message : String(err)}\n`,
        code: UNREACHABLE_CODE,
      };
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socket, { force: true });
  }
}

/** Writes `host`'s stand-in script into `dir` (mode 0755) and returns its path. */
export function writeStandIn(dir: string, host: string, socket: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = path.join(dir, 'standin');
  writeFileSync(file, standInScript(host, socket), { mode: 0o755 });
  chmodSync(file, 0o755);
  return file;
}

/** A script for pod namespaces: refuses the machine's programs (a pod image has none of them). */
export function refuseScript(): string {
  return '#!/bin/sh\necho "$(basename "$0"): not available in a lab twin pod" >&2\nexit 127\n';
}
