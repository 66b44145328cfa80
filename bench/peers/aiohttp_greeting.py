"""The greeting server on aiohttp: the program eddy is modelled on.

    python aiohttp_greeting.py --addr 127.0.0.1:8080

Plain asyncio event loop (no uvloop), one process, access log off (a log line
per request would measure the logger, not the server).
"""

import argparse

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    name = request.match_info.get('name', 'Anonymous')
    return web.Response(text=f'Hello, {name}!')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--addr', default='127.0.0.1:8080', help='host:port')
    # Accepted so every server in the harness has the same CLI; aiohttp runs
    # one event loop in one process whatever this says.
    parser.add_argument('--workers', type=int, default=1, help='ignored')
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(':')

    app = web.Application()
    app.add_routes([web.get('/', handle), web.get('/{name}', handle)])
    # run_app calls `print` once its sites are listening; the harness waits for
    # this line. It also turns SIGTERM into a graceful exit.
    web.run_app(
        app,
        host=host,
        port=int(port),
        access_log=None,
        print=lambda _banner: print(f'listening on {host}:{port}', flush=True),
    )


if __name__ == '__main__':
    main()
