// A TCP proxy in front of moto that the capture tests turn into a faulty S3:
//   pass    relays both ways (S3 works)
//   reset   accepts and closes each connection at once (S3 down: ECONNRESET / socket hang up)
//   hang    accepts and reads, and never answers (a hung S3: only a timeout ends the request)
//   closed  stops listening (ECONNREFUSED), as an S3 endpoint that is gone
// Connections already relayed are cut when the mode leaves `pass`, as an outage cuts them.

import { createServer, connect } from 'node:net';

export async function startS3Proxy(t, target) {
  const { hostname, port: targetPort } = new URL(target);
  let mode = 'pass';
  const sockets = new Set();
  const held = new Set();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hang') {
      held.add(client);
      client.resume(); // read and drop: the client's writes never block, its answer never comes
      return;
    }
    const upstream = connect(Number(targetPort), hostname);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  let port = server.address().port;
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    async setMode(next) {
      if (mode === 'closed' && next !== 'closed') {
        await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
      }
      mode = next;
      if (next !== 'pass') for (const socket of sockets) if (!held.has(socket)) socket.destroy();
      if (next === 'closed') await new Promise((resolve) => server.close(() => resolve()));
      port = server.address()?.port ?? port;
    },
  };
}
