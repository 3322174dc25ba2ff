// Plain JavaScript (no tsx): four of these start at once on every netlab build, and tsx's start-up cost seconds.
/**
 * The netlab's "port forward" (what VirtualBox NAT does for `vagrant ssh`): runs INSIDE a host's network
 * namespace and receives, over the IPC channel, a listening socket the parent opened on 127.0.0.1 in the
 * root namespace. Every connection accepted there is joined to TCP `target` inside the namespace (the
 * host's sshd). The harness thus reaches the host at 127.0.0.1:<port> without any address on a
 * root-namespace interface. When sshd is down the connection is accepted and then dropped, like a
 * forwarded port of a rebooting VM.
 *
 * Exits when the parent goes away (IPC channel closed), so it never outlives the test process.
 */
import net from 'node:net';

process.on('disconnect', () => process.exit(0));
process.once('message', (setup, server) => {
  if (!(server instanceof net.Server)) {
    console.error('relay: expected a listening socket with the setup message');
    process.exit(2);
  }
  server.on('connection', (outer) => {
    outer.setNoDelay(true);
    const inner = net.connect(setup.target);
    inner.setNoDelay(true);
    const close = () => {
      outer.destroy();
      inner.destroy();
    };
    outer.on('error', close).on('close', close);
    inner.on('error', close).on('close', close);
    outer.pipe(inner);
    inner.pipe(outer);
  });
  process.send?.('ready');
});
