"""Standalone, for benchmarks and manual use: python -m tests.fake_gateway --port 8765 --delay 1.0"""

import argparse
import time

from tests.fake_gateway.server import DEFAULT_API_KEY, FakeGateway


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake image gateway on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each image answer")
    parser.add_argument("--key", default=DEFAULT_API_KEY, help="the API key it accepts")
    parser.add_argument("--cost", type=float, default=0.01, help="usage.cost of each image")
    parser.add_argument(
        "--photo-size", default="", help="answer every call with a photo-like PNG, e.g. 3840x2160"
    )
    args = parser.parse_args(argv)
    photo = tuple(int(side) for side in args.photo_size.split("x")) if args.photo_size else None
    fake = FakeGateway(
        api_key=args.key,
        port=args.port,
        default_delay=args.delay,
        cost=args.cost,
        photo_size=photo,
    )
    with fake:
        print(f"LLM_GATEWAY_BASE_URL={fake.base_url}")
        print(f"LLM_GATEWAY_API_KEY={fake.api_key}")
        print("Serving; Ctrl+C stops.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
