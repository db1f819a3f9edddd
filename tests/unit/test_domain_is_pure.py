"""Every service's domain/ package is plain rules over plain data: it imports no library that
does I/O, neither itself nor through what it imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = sorted(REPO.glob("services/*/domain/*.py"))
IO_LIBRARIES = {"faststream", "aiokafka", "aiosmtplib", "smtplib", "httpx", "http", "urllib3",
                "requests", "uvicorn", "starlette", "prometheus_client", "asyncio", "ssl",
                "shared.kafka", "shared.state", "shared.ops", "shared.topics"}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def _io(name: str) -> bool:
    return any(name == lib or name.startswith(f"{lib}.") for lib in IO_LIBRARIES)


def test_there_are_domain_modules_to_check() -> None:
    assert len(DOMAIN_MODULES) >= 8


def test_no_domain_module_imports_an_io_library() -> None:
    offending = []
    for path in DOMAIN_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offending += [f"{_module(path)}: {n}" for n in names if _io(n)]
    assert offending == []


def test_importing_every_domain_module_loads_no_io_library() -> None:
    code = ("import importlib, sys\n"
            f"for m in {[_module(p) for p in DOMAIN_MODULES]!r}: importlib.import_module(m)\n"
            "print('\\n'.join(sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()
    assert sorted(m for m in loaded if _io(m)) == []
