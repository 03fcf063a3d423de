"""The embedded default's Redis: fakeredis served on loopback for the web, worker and scheduler.

fakeredis's TCP handler closes the connection after any error reply. Real Redis keeps it open,
and clients rely on that: redis-py answers NOSCRIPT by loading the script on the same
connection, and rq probes INFO (which fakeredis lacks) and carries on. So errors that are plain
replies keep the connection here; anything else still ends it.
"""

import select
import threading

from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import _POLL_INTERVAL, TCPFakeRequestHandler  # noqa: PLC2701
from redis.exceptions import ResponseError


class _ReplyErrorsKeepConnection(TCPFakeRequestHandler):
    def handle(self) -> None:
        while not self.server._shutdown_event.is_set():
            try:
                if self.current_client.can_read():
                    self.writer.dump(self.current_client.read_response())
                    continue
                data = self.rfile.readline()
                if data == b"":
                    readable, _, _ = select.select([self.connection], [], [], _POLL_INTERVAL)
                    if not readable:
                        continue
                    data = self.rfile.readline()
                    if data == b"":
                        break  # the client closed the connection
                self.current_client.get_socket().sendall(data)
            except ResponseError as error:
                self.writer.dump(error)  # an error reply, as real Redis sends: the connection stays
            except ConnectionError:
                break
            except Exception as error:  # noqa: BLE001 - reported to the client, then the connection ends
                self.writer.dump(error)
                break


class _Server(TcpFakeServer):
    # Connections waiting to be accepted. socketserver's default of 5 is too few: the web's threads,
    # the workers and the scheduler connect at once, the kernel drops what does not fit, and the
    # clients' 0.5 s connect timeout runs out before it retries. Real Redis's tcp-backlog is 511.
    request_queue_size = 511


def serve(port: int) -> TcpFakeServer:
    """Start fakeredis on 127.0.0.1:`port` in a daemon thread; return the server."""
    server = _Server(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = _ReplyErrorsKeepConnection
    server.daemon_threads = True  # open client connections must not keep the process alive on exit
    threading.Thread(target=server.serve_forever, daemon=True, name="fakeredis").start()
    return server
