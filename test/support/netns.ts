/**
 * Throwaway network namespaces for self-tests. A namespace made here has only a loopback interface
 * unless the test adds more, so a program run inside it cannot send a packet anywhere else.
 */
import { execa } from 'execa';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function hasCommand(cmd: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${cmd}`], { reject: false });
  return r.exitCode === 0;
}

export interface Netns {
  name: string;
  /** argv prefix that runs a command inside the namespace. */
  exec: string[];
  remove(): Promise<void>;
}

/** Creates namespace `name` (with loopback up when `loopbackUp`), to be removed with `remove()`. */
export async function createNetns(name: string, opts: { loopbackUp?: boolean } = {}): Promise<Netns> {
  if (name.length > 15) throw new Error(`namespace name ${name} is longer than 15 characters`);
  await execa('ip', ['netns', 'add', name]);
  if (opts.loopbackUp) await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    exec: ['ip', 'netns', 'exec', name],
    remove: async () => {
      await execa('ip', ['netns', 'del', name], { reject: false });
    },
  };
}
