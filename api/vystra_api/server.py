"""Run the API with uvicorn: ``vystra serve`` and the ``vystra-api`` entry point."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

import uvicorn

from vystra import logs, tracing
from vystra.settings import Settings, get_settings
from vystra.shutdown import exit_on_sigterm
from vystra_api.main import create_app, create_ops_app

# open requests (an event stream lasts as long as its ingest) may delay a stop this long
CONNECTIONS_GRACE_SECONDS = 5


def serve(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, ops_port: int | None = None
) -> None:
    """Serve until SIGINT or SIGTERM; either shuts the app down, then unwinds the caller
    (SIGTERM as :class:`vystra.shutdown.Terminated`, once :func:`exit_on_sigterm` is set).
    With ``ops_port``, readiness and metrics are served there only."""
    logs.configure(settings.log_format)
    tracing.configure("vystra-api")
    app = create_app(settings, ops_routes=ops_port is None)
    if ops_port is not None:
        ops = uvicorn.Server(
            uvicorn.Config(
                create_ops_app(app),
                host=host,
                port=ops_port,
                log_level="warning",
                log_config=None,  # records go to the handler logs.configure set up
                access_log=False,
                lifespan="off",
            )
        )
        # a thread of its own: only the main server handles signals; this one ends with it
        threading.Thread(target=ops.run, name="ops-http", daemon=True).start()
    # one process: local mode's queue and workers live in it (scale out in cluster mode)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        access_log=False,  # RequestLog writes one record per request, with its id
        timeout_graceful_shutdown=CONNECTIONS_GRACE_SECONDS,
    )


def serve_with_banner(settings: Settings, host: str, port: int) -> None:
    """``vystra serve``: the core CLI finds this through the ``vystra.serve`` entry point, so
    the core package never imports the API package."""
    from vystra_api.web import app_url

    print(f"Vystra web app: {app_url(host, port)}  (API docs: /docs)", flush=True)
    serve(settings, host, port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vystra-api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--ops-port",
        type=int,
        help="serve /readyz and /metrics on this port only, off the public one",
    )
    parser.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    if args.reload:
        from vystra import devreload

        rest = devreload.strip_reload(sys.argv[1:] if argv is None else argv)
        return devreload.run("vystra_api.server", rest, ["vystra", "vystra_api"])
    serve(get_settings(), args.host, args.port, args.ops_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
