"""Run the simulated exchange behind a real uvicorn HTTP server (foreground or a daemon thread)."""

from __future__ import annotations

import threading
import time
from typing import Any, Self

import uvicorn

from trading.deribit.simulator.app import DeribitSimApp


def _config(
    app: Any, host: str, port: int, graceful_shutdown_s: int | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=graceful_shutdown_s,
    )


class LoopbackServer:
    """Any ASGI app behind uvicorn on `host:port` (0 picks a free port) in a daemon thread.

    Shared by the simulated exchange and the tests' fake services (e.g. the fake OpenAI server).
    """

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "asgi"
    ) -> None:
        self.host = host
        self.name = name
        # In-process servers stop promptly even when clients hold keep-alive connections.
        self._server = uvicorn.Server(_config(app, host, port, graceful_shutdown_s=1))
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self.port = 0

    def start(self, timeout_s: float = 10.0) -> Self:
        """Start serving and wait until the socket is bound."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} server failed to start")
            time.sleep(0.01)
        servers: list[Any] = list(getattr(self._server, "servers", []))
        self.port = int(servers[0].sockets[0].getsockname()[1])
        return self

    @property
    def origin(self) -> str:
        """Scheme, host and port, e.g. http://127.0.0.1:8082."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ServerThread(LoopbackServer):
    """The simulated exchange on loopback in a daemon thread."""

    def __init__(self, app: DeribitSimApp, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(app, host, port, name="deribit-sim")
        self.app = app

    @property
    def base_url(self) -> str:
        """Deribit base URL of this server, e.g. http://127.0.0.1:8082/api/v2."""
        return f"{self.origin}/api/v2"


def serve(app: DeribitSimApp, host: str = "127.0.0.1", port: int = 8082) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    uvicorn.Server(_config(app, host, port)).run()
