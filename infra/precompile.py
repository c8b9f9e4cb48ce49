"""Add compiled bytecode to the Lambda deployment package, so a cold start does not compile the sources.

    python3 infra/precompile.py out/<stage>/deployment.zip        (rewrites the zip in place)

Lambda's /var/task is read-only: Python cannot write __pycache__ there, so without bytecode in the
package every cold start compiles app.py, chalicelib and every dependency Chalice vendored (it unpacks
wheels, which carry no .pyc) from source. This adds `__pycache__/<name>.<cache_tag>.pyc` beside each
.py in the zip, compiled by THIS interpreter - run it on the Lambda runtime's Python (infra/deploy.sh
does, through on_runtime); a different interpreter's tag is simply ignored by the runtime, never misread.

The .pyc files are `unchecked-hash` (PEP 552): the package is immutable once built, and zip keeps
mtimes only to 2 s, which would make timestamp-checked bytecode look stale and be recompiled anyway.
Files that do not compile for this interpreter (e.g. a vendored module for another version) are left
as source and listed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import py_compile
import sys
import tempfile
import zipfile
from pathlib import PurePosixPath


def pyc_name(source: str) -> str:
    path = PurePosixPath(source)
    return str(path.parent / "__pycache__" / f"{path.stem}.{sys.implementation.cache_tag}.pyc")


def compile_source(data: bytes, name: str) -> bytes:
    """The bytes of an unchecked-hash .pyc of `data` (py_compile, PycInvalidationMode.UNCHECKED_HASH)."""
    with tempfile.TemporaryDirectory(prefix="frs-pyc-") as tmp:
        src, out = os.path.join(tmp, "module.py"), os.path.join(tmp, "module.pyc")
        with open(src, "wb") as f:
            f.write(data)
        py_compile.compile(src, cfile=out, dfile=name, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        with open(out, "rb") as f:
            return f.read()


def unchecked(pyc: bytes) -> bool:
    """Is this .pyc one of ours: this interpreter's magic number and the unchecked-hash flags (PEP 552: 0b01)?"""
    return len(pyc) >= 16 and pyc[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(pyc[4:8], "little") == 1


def precompile(zip_path: str) -> tuple[int, list[str]]:
    """Rewrite `zip_path` with a .pyc beside every .py; (compiled count, sources left as they are).

    A .pyc already in the zip for this interpreter is kept only if it is unchecked-hash (a previous run); a
    timestamp-checked one (`chalice package` copies a checkout's __pycache__) is replaced: zip keeps mtimes to 2 s,
    so the runtime could judge it stale and compile the source at every cold start anyway."""
    with zipfile.ZipFile(zip_path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    present = {info.filename: data for info, data in entries}
    added: list[tuple[zipfile.ZipInfo, bytes]] = []
    skipped: list[str] = []
    for info, data in entries:
        if not info.filename.endswith(".py"):
            continue
        old = present.get(pyc_name(info.filename))
        if old is not None and unchecked(old):
            continue
        try:
            pyc = compile_source(data, info.filename)
        except (py_compile.PyCompileError, ValueError, UnicodeDecodeError):
            skipped.append(info.filename)
            continue
        entry = zipfile.ZipInfo(pyc_name(info.filename), date_time=info.date_time)
        entry.external_attr = info.external_attr
        entry.compress_type = zipfile.ZIP_DEFLATED
        added.append((entry, pyc))
    replaced = {info.filename for info, _ in added}
    fd, tmp = tempfile.mkstemp(suffix=".zip", dir=os.path.dirname(os.path.abspath(zip_path)))
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
            for info, data in [*((i, d) for i, d in entries if i.filename not in replaced), *added]:
                out.writestr(info, data)
        os.replace(tmp, zip_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(added), skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zip", help="deployment.zip written by `chalice package`")
    args = parser.parse_args()
    count, skipped = precompile(args.zip)
    print(f"precompile: {count} modules compiled for {sys.implementation.cache_tag} into {args.zip}"
          + (f"; left as source: {', '.join(skipped)}" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
