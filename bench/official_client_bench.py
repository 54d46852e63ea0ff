"""Complete flows with the official Python client against the emulator.

Usage: official_client_bench.py BASE_URL FLOWS CONCURRENCY
Prints `RESULT flows_per_sec=… connections_per_flow=…`.
"""

import asyncio
import json
import sys
import time
import urllib.request

from fastn_auth import FastnAuth, PollOptions


def stats(base_url: str) -> dict:
    origin = base_url.removesuffix("/api")
    # The control API asks for the emulator's key.
    request = urllib.request.Request(f"{origin}/_emulator/stats", headers={"x-fastn-api-key": "mock-api-key"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


async def main(base_url: str, flows: int, concurrency: int) -> None:
    client = FastnAuth(space_id="bench-space", api_key="mock-api-key", base_url=base_url)
    remaining = iter(range(flows))
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for flow in remaining:
            try:
                session = await client.initialize(connector_id="slack", tenant_id=f"tenant-{flow}")
                await session.wait_for_completion(PollOptions(interval=0.0, timeout=60))
            except Exception:  # counted, as the Rust harness counts its errors
                errors += 1

    before = stats(base_url)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    after = stats(base_url)
    connections = after["connections_accepted"] - before["connections_accepted"] - 1
    print(f"  official Python client {(flows - errors) / elapsed:9.0f} flows/s  {errors} errors")
    print(f"RESULT flows_per_sec={(flows - errors) / elapsed:.1f} connections_per_flow={connections / flows:.4f}")


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
