"""What importing the server costs in memory, by package:
`python -m bench.imports [module] [--why package ...] [--split app]`.

Imports what uvicorn imports before an app, then `module` (default: app.main, whose served
app is then built as uvicorn builds it) in this fresh interpreter, and charges every module's
own RSS growth (its children's excluded) to its top-level package. Each package is shown with
the app module that first imported it, and `--why` prints the whole chain: the import to
defer when an idle server has no use for the package. The figures are a few tenths of a MB
apart from run to run; `python -m bench.idle` measures the served process itself.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class Charged(importlib.abc.Loader):
    """Wraps a module's loader: its own growth, and the app module importing it."""

    stack: list[list[int]] = []  # per module being executed: [start rss, children's growth]
    own: dict[str, int] = defaultdict(int)
    first_by: dict[str, str] = {}
    chains: dict[str, list[str]] = {}
    split: tuple[str, ...] = ()  # packages charged module by module

    def __init__(self, loader: importlib.abc.Loader, name: str) -> None:
        self.loader, self.name = loader, name

    def __getattr__(self, name: str) -> object:
        return getattr(self.loader, name)  # resources, source, ...: the wrapped loader's

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        package = self.name if self.name.startswith(Charged.split) else self.name.split(".")[0]
        importer = next((f for f in reversed(_executing) if f.startswith("app")), "-")
        Charged.first_by.setdefault(package, importer)
        Charged.chains.setdefault(package, [*_executing, self.name])
        _executing.append(self.name)
        frame = [rss(), 0]
        Charged.stack.append(frame)
        try:
            self.loader.exec_module(module)
        finally:
            Charged.stack.pop()
            _executing.pop()
            grown = rss() - frame[0]
            Charged.own[package] += grown - frame[1]
            if Charged.stack:
                Charged.stack[-1][1] += grown


_executing: list[str] = []


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = Charged(spec.loader, name)
                return spec
        return None


# What `python -m uvicorn --loop uvloop --http httptools` has imported before it loads the app.
UVICORN = ("uvicorn.main", "uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl",
           "uvicorn.protocols.websockets.auto", "uvicorn.lifespan.on")  # fmt: skip


def main(target: str, why: Sequence[str], split: Sequence[str]) -> None:
    Charged.split = tuple(split)
    for module in UVICORN:
        importlib.import_module(module)
    start = rss()
    sys.meta_path.insert(0, Finder())
    importlib.import_module(target)
    if target == "app.main":
        os.environ.setdefault("SECRET", "x" * 64)
        os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
        sys.modules["app.main"].app  # noqa: B018  (built as uvicorn builds it)
    total = rss() - start
    print(f"{target}: {start / 2**20:.1f} MB before, {total / 2**20:.1f} MB imported\n")
    print(f"{'MB':>6}  {'package':<28} first imported by")
    for package, grown in sorted(Charged.own.items(), key=lambda item: -item[1]):
        if grown >= 2**17:
            print(f"{grown / 2**20:6.1f}  {package:<28} {Charged.first_by.get(package, '')}")
    print(f"{(total - sum(Charged.own.values())) / 2**20:6.1f}  (not in any module: the app's construction)")
    for package in why:
        print(f"\n{package}: " + " -> ".join(Charged.chains.get(package, ["not imported"])))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("module", nargs="?", default="app.main")
    parser.add_argument("--why", nargs="*", default=(), help="packages: the import chain that first loaded each")
    parser.add_argument("--split", nargs="*", default=(), help="packages to show module by module (e.g. app)")
    args = parser.parse_args()
    main(args.module, args.why, args.split)
