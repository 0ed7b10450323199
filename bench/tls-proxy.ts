// TLS in front of a plain-http emulator, for benchmarks that must pay what AWS's endpoints ask of every client: a
// TLS handshake per connection. The certificate is test/fixtures/tls's (for 127.0.0.1, signed by its ca.pem, which a
// client trusts through NODE_EXTRA_CA_CERTS).
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { join } from "node:path";
import { createServer } from "node:tls";

const TLS = join(import.meta.dirname, "..", "test", "fixtures", "tls");

/** The CA a client must trust to reach a proxy (NODE_EXTRA_CA_CERTS). */
export const TLS_PROXY_CA_FILE = join(TLS, "ca.pem");

export interface TlsProxy {
  /** `https://127.0.0.1:<port>`, forwarding to the plain endpoint it was made for. */
  url: string;
  /** Connections it has taken (each a TLS handshake). */
  readonly connections: number;
  close(): Promise<void>;
}

/** An https endpoint that forwards each connection, byte for byte, to `plain` (`http://host:port`). */
export async function tlsProxy(plain: string): Promise<TlsProxy> {
  const target = new URL(plain);
  const open = new Set<{ destroy(): void }>();
  let connections = 0;
  const server = createServer(
    { key: readFileSync(join(TLS, "server-key.pem")), cert: readFileSync(join(TLS, "server.pem")) },
    (socket) => {
      connections++;
      // Without Nagle's algorithm, as the SDK's own sockets and AWS's endpoints: with it, a small TLS record waits
      // for the peer's delayed ACK, and every connection took about 40 ms longer by the clock (not by the CPU).
      const upstream = connect({ port: Number(target.port), host: target.hostname, noDelay: true });
      socket.setNoDelay(true);
      socket.pipe(upstream).pipe(socket);
      const close = () => {
        socket.destroy();
        upstream.destroy();
        open.delete(connection);
      };
      const connection = { destroy: close };
      open.add(connection);
      socket.on("close", close);
      upstream.on("close", close);
      socket.on("error", close);
      upstream.on("error", close);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise((resolve) => {
        for (const connection of open) connection.destroy();
        server.close(() => resolve());
      }),
  };
}
