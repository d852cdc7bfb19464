"""Pieces every command shares: the --store option, opening a store, progress bars."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, TypeVar

import click

from dnncost.store import DEFAULT_STORE, Store

T = TypeVar("T")


def default_store() -> str:
    """The store path when --store is not given: $DNNCOST_STORE, else data/dnncost.sqlite."""
    return os.environ.get("DNNCOST_STORE", DEFAULT_STORE)


def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--store PATH`` to a command."""
    return click.option(
        "--store", "store_path", type=click.Path(), default=default_store,
        show_default=DEFAULT_STORE, help="SQLite dataset store ($DNNCOST_STORE).",
    )(func)


def open_store(path: str, create: bool = False) -> Store:
    """Open the store at ``path``; a missing one is an error unless ``create``."""
    return Store(path, create=create)


def quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("quiet"))


def verbose() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("verbose"))


def progress(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    """A progress bar with ETA on stderr, silent with -q or when not on a terminal."""
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, disable=True if quiet() else None,
                unit="it", dynamic_ncols=True, leave=False)


def echo(message: str) -> None:
    """Print a result line unless -q."""
    if not quiet():
        click.echo(message)
