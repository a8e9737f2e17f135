"""The bench's memory rows alone, without the load (light on shared cores):
`python -m bench.idle [--runs 3] [--sign-ins 1] [--database-url postgres://...]`.

Starts the served app as `python -m bench` does, signs in, and prints VmRSS: at start-up,
then after each sign-in (the bench's "RSS idle" is the first), with the bare Strawberry
app's for reference. `python -m bench.imports` says where the memory comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics

from bench.__main__ import Server, environment, prepare, sign_in


async def measure(runs: int, sign_ins: int, database_url: str | None) -> None:
    env = environment(database_url)
    if env["DATABASE_URL"].startswith("postgres"):
        from bench.growth import reset

        await reset(env["DATABASE_URL"])
    prepare(env)
    bare = Server("bench.baseline:app", {})
    try:
        print(f"bare Strawberry: {bare.rss:.1f} MB")
    finally:
        bare.stop()
    idle = []
    for _ in range(runs):
        server = Server("app.main:app", env)
        try:
            figures = [server.rss]
            for _ in range(sign_ins):
                await sign_in(server.port)
                figures.append(server.rss)
        finally:
            server.stop()
        idle.append(figures[1] if sign_ins else figures[0])
        print("started " + ", then ".join(f"{mb:.1f}" for mb in figures) + " MB")
    print(f"RSS idle (median of {runs}): {statistics.median(idle):.1f} MB (target ≤ 90)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sign-ins", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    asyncio.run(measure(args.runs, args.sign_ins, args.database_url))
