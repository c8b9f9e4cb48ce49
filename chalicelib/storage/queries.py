"""Named SQL queries from chalicelib/storage/queries/*.sql, read once per process.

A file holds blocks introduced by `-- name: <query_name>`; the comment lines that follow document
the block and stay in the text sent to the server. Parameters are psycopg's `%(name)s`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import LiteralString, cast

QUERY_DIR = Path(__file__).resolve().parent / "queries"
_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str, source: str = "<string>") -> dict[str, str]:
    """{name: sql} of every `-- name:` block in `text` (duplicate names are an error)."""
    found: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for i, match in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[match.end():end].strip().rstrip(";").strip()
        if match.group(1) in found:
            raise ValueError(f"{source}: query {match.group(1)!r} defined twice")
        if not body:
            raise ValueError(f"{source}: query {match.group(1)!r} is empty")
        found[match.group(1)] = body
    return found


@lru_cache(maxsize=1)
def _all() -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(QUERY_DIR.glob("*.sql")):
        for name, body in parse(path.read_text(encoding="utf-8"), path.name).items():
            if name in queries:
                raise ValueError(f"{path.name}: query {name!r} already defined in another file")
            queries[name] = body
    return queries


def q(name: str) -> LiteralString:
    """The SQL of query `name` (KeyError names the missing query)."""
    try:
        return cast(LiteralString, _all()[name])
    except KeyError:
        raise KeyError(f"no SQL query named {name!r} in {QUERY_DIR}") from None


def names() -> list[str]:
    return sorted(_all())
