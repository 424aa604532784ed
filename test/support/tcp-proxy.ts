/**
 * A TCP proxy on 127.0.0.1 in front of one target, for tests that need the network between eipd
 * and its database to fail in ways a stopped server cannot show. The mode can be switched at any
 * time and applies to new and existing connections alike:
 *
 * - `pass`: bytes are forwarded both ways (a connection that was held by `drop` picks up where it
 *   stopped, with whatever was sent meanwhile: a network partition that heals, as TCP would).
 * - `refuse`: new connections are reset at once; existing ones are reset on both sides.
 * - `drop`: a black hole. New connections are accepted but never forwarded nor answered (they
 *   stay black holes after the mode changes, until their client gives up). Existing ones stay
 *   open but nothing moves in either direction: no data, no close; a side that closes meanwhile
 *   is passed on only once the mode is `pass` or `refuse` again. This is what a dead network
 *   path or a frozen server looks like to a client: its writes succeed and it waits forever.
 *
 * `close()` stops listening and destroys every socket.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'drop';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /** Open connections (forwarded pairs and black holes), for diagnostics. */
  connectionCount(): number;
  close(): Promise<void>;
}

export interface ProxyTarget {
  host: string;
  port: number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  connected: boolean;
  /** Whether the two sockets are piped to each other right now. */
  piped: boolean;
  /** One side closed while traffic was dropped: the other is closed once it no longer is. */
  doomed: boolean;
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  // An RST rather than a FIN, when the socket has a handle to send it on.
  if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') {
    socket.resetAndDestroy();
  } else {
    socket.destroy();
  }
}

export async function startTcpProxy(
  target: ProxyTarget,
  options: { mode?: ProxyMode } = {},
): Promise<TcpProxy> {
  let mode: ProxyMode = options.mode ?? 'pass';
  const pairs = new Set<Pair>();
  const holes = new Set<Socket>();

  const flow = (pair: Pair): void => {
    if (pair.piped || !pair.connected || pair.client.destroyed || pair.upstream.destroyed) return;
    pair.piped = true;
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };

  const hold = (pair: Pair): void => {
    pair.piped = false;
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
  };

  const kill = (pair: Pair): void => {
    pairs.delete(pair);
    reset(pair.client);
    reset(pair.upstream);
  };

  const onSideClosed = (pair: Pair): void => {
    if (!pairs.has(pair)) return;
    if (mode === 'drop') {
      pair.doomed = true;
      return;
    }
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream.destroy();
  };

  const blackHole = (client: Socket): void => {
    holes.add(client);
    // Read and discard, so that the client's own close is noticed; answer nothing, ever.
    client.on('data', () => {});
    client.once('end', () => client.destroy());
    client.once('close', () => holes.delete(client));
    client.resume();
  };

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      reset(client);
      return;
    }
    if (mode === 'drop') {
      blackHole(client);
      return;
    }
    const upstream = netConnect({ host: target.host, port: target.port, allowHalfOpen: true });
    upstream.on('error', () => {});
    upstream.pause();
    const pair: Pair = { client, upstream, connected: false, piped: false, doomed: false };
    pairs.add(pair);
    upstream.once('connect', () => {
      pair.connected = true;
      if (mode === 'pass') flow(pair);
    });
    client.once('close', () => onSideClosed(pair));
    upstream.once('close', () => {
      // The target refused or reset us: so does the proxy, unless it is holding traffic.
      if (!pair.connected && mode !== 'drop') {
        pairs.delete(pair);
        reset(client);
        return;
      }
      onSideClosed(pair);
    });
  });
  server.on('error', () => {});

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no address');

  let closed: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port: address.port,
    get mode() {
      return mode;
    },
    setMode(next: ProxyMode) {
      if (closed !== undefined) throw new Error('the proxy is closed');
      mode = next;
      for (const pair of [...pairs]) {
        if (next === 'refuse') {
          kill(pair);
        } else if (pair.doomed) {
          pairs.delete(pair);
          pair.client.destroy();
          pair.upstream.destroy();
        } else if (next === 'drop') {
          hold(pair);
        } else {
          flow(pair);
        }
      }
      if (next === 'refuse') {
        for (const hole of [...holes]) reset(hole);
      }
    },
    connectionCount: () => pairs.size + holes.size,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const pair of [...pairs]) kill(pair);
        for (const hole of [...holes]) hole.destroy();
      });
      return closed;
    },
  };
}
