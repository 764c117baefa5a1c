"""The bare pass-through reverse proxy: the cost of any Python proxy at all.

Same server stack as Spectra (uvicorn, uvloop + httptools, one worker, no access log) and the
same upstream client and pool (`spectra.providers.client.UpstreamClient`, aiohttp), and no other
logic: the POST body goes to `upstream + path` with the caller's content-type and credentials,
the status, content-type and body come back chunk by chunk as they arrive.

    python -m bench.bare_proxy --upstream http://127.0.0.1:PORT --port 0
    # prints BENCH_BARE_URL=http://127.0.0.1:PORT once listening
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

from spectra.providers.client import UpstreamClient

_FORWARDED = (b"content-type", b"authorization", b"x-api-key", b"anthropic-version")
_SENT_BACK = ("content-type", "cache-control")


class BareProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.client = UpstreamClient()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.client.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        parts: list[bytes] = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k in _FORWARDED
        ]
        resp = await self.client.send(
            scope["method"], self.upstream + scope["path"], headers=headers, body=b"".join(parts)
        )
        out = [
            (name.encode(), value.encode())
            for name in _SENT_BACK
            if (value := resp.headers.get(name)) is not None
        ]
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        async for chunk in resp.iter_chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        resp.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    print(f"BENCH_BARE_URL=http://{args.host}:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        BareProxy(args.upstream),
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
