"""How long Portal's views are, in logical lines (statements), as the style asks.

A view is a function decorated with a blueprint route (``@blueprint.get``,
``.post``, ``.route``). Its length is the number of Python logical lines in
its body (NEWLINE tokens, as ``tokenize`` sees them), the docstring left
out: a call spread over five lines counts once; ``if x:``, ``else:`` and
``try:`` count one each.

Prints one line per view over ``--show`` lines, then
``views=<n> median=<m> max=<k> (<name>)``. Exit status 1 when the median is
over 8 or a view is over 30 (the targets of issue 12).

Run: ``.venv/bin/python bench/view_lengths.py [--show 10]``.
"""

from __future__ import annotations

import argparse
import ast
import io
import statistics
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUTE_DECORATORS = {"get", "post", "route", "put", "delete", "patch"}
MEDIAN_TARGET = 8
LONGEST_ALLOWED = 30


def _is_route(decorator: ast.expr) -> bool:
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call is not None else decorator
    return isinstance(target, ast.Attribute) and target.attr in ROUTE_DECORATORS


def _logical_lines(tokens: list[tokenize.TokenInfo], first: int, last: int) -> int:
    """Python's logical lines (NEWLINE tokens) that end on physical lines first..last."""
    return sum(1 for t in tokens if t.type == tokenize.NEWLINE and first <= t.start[0] <= last)


def view_lengths(root: Path = ROOT / "portal") -> dict[str, int]:
    """``module:function`` of every view, with its length in statements."""
    lengths = {}
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(map(_is_route, node.decorator_list)):
                body = node.body
                if (
                    body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                ):
                    body = body[1:]
                first_line = body[0].lineno if body else node.end_lineno + 1
                name = f"{path.relative_to(root.parent).with_suffix('')}:{node.name}"
                lengths[name.replace("/", ".")] = _logical_lines(
                    tokens, first_line, node.end_lineno
                )
    return lengths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show", type=int, default=MEDIAN_TARGET, help="list views longer than this"
    )
    args = parser.parse_args()
    lengths = view_lengths()
    for name, length in sorted(lengths.items(), key=lambda item: -item[1]):
        if length > args.show:
            print(f"{length:4d}  {name}")
    median = statistics.median(lengths.values())
    longest = max(lengths, key=lengths.get)
    print(f"views={len(lengths)} median={median:g} max={lengths[longest]} ({longest})")
    return 0 if median <= MEDIAN_TARGET and lengths[longest] <= LONGEST_ALLOWED else 1


if __name__ == "__main__":
    sys.exit(main())
