/**
 * addRoutes when the SSH connection drops while `ip route add` runs (issue 16, ssh-drop; seen on the twin: the route
 * was added, the exit status never came, the scenario failed and the route was left behind). A fake host stands for
 * the router: the add takes effect, then the connection is "lost".
 */
import { describe, expect, test } from 'vitest';
import { addRoutes, HARNESS_ROUTE_PROTO } from '../../../helpers/transport/probes.ts';
import { SshError, type SshPool } from '../../../helpers/transport/ssh.ts';

function fakeRouter(o: { addTakesEffect: boolean }) {
  const routes = new Set<string>();
  const commands: string[] = [];
  let cut = true;
  const run = (command: string): Promise<string> => {
    commands.push(command);
    const add = /^ip route add '([^']+)' via '([^']+)' proto 173$/.exec(command);
    if (add) {
      if (routes.has(`${add[1]} via ${add[2]}`))
        return Promise.reject(new SshError('router', command, 'exited with code 2: RTNETLINK answers: File exists'));
      if (o.addTakesEffect || !cut) routes.add(`${add[1]} via ${add[2]}`);
      if (cut) {
        cut = false;
        return Promise.reject(new SshError('router', command, 'connection lost while the command ran'));
      }
      return Promise.resolve('');
    }
    if (command === `ip -4 route show proto ${HARNESS_ROUTE_PROTO}`)
      return Promise.resolve([...routes].map((r) => `${r} dev eth2 \n`).join(''));
    return Promise.reject(new Error(`unexpected command ${command}`));
  };
  const exec = (command: string) => {
    commands.push(command);
    const del = /^ip route del '([^']+)' via '([^']+)' proto 173$/.exec(command);
    const key = del ? `${del[1]} via ${del[2]}` : '';
    const had = routes.delete(key);
    return Promise.resolve({
      stdout: '',
      stderr: had ? '' : 'RTNETLINK answers: No such process',
      code: had ? 0 : 2,
      signal: null,
      durationMs: 1,
    });
  };
  const ssh = { host: () => ({ name: 'router', run, exec }) } as unknown as SshPool;
  return { ssh, routes, commands };
}

const R = { dst: '198.19.2.0/24', via: '198.18.20.100' };
const ADD = `ip route add '${R.dst}' via '${R.via}' proto 173`;

describe('addRoutes: the connection drops while the add runs', () => {
  test('the add had happened: it is not run again, the scenario goes on, and the undo removes the route', async () => {
    const f = fakeRouter({ addTakesEffect: true });
    const undo = await addRoutes(f.ssh, 'router', [R]);
    expect(f.commands.filter((c) => c === ADD)).toHaveLength(1);
    expect([...f.routes]).toEqual([`${R.dst} via ${R.via}`]);
    await undo();
    expect([...f.routes]).toEqual([]);
  });

  test('the add had not happened: it runs once more, and the undo removes the route', async () => {
    const f = fakeRouter({ addTakesEffect: false });
    const undo = await addRoutes(f.ssh, 'router', [R]);
    expect(f.commands.filter((c) => c === ADD)).toHaveLength(2);
    expect([...f.routes]).toEqual([`${R.dst} via ${R.via}`]);
    await undo();
    expect([...f.routes]).toEqual([]);
  });
});
