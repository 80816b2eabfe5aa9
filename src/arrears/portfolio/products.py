"""Products in the database: seeded from the built-in definitions, read as validated models."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.domain.products import Product, builtin_products, load_products
from arrears.store import tables

__all__ = ["add_products", "ensure_builtin_products", "product_catalogue"]


def product_catalogue(session: Session) -> dict[str, Product]:
    """Every product in the database, by code."""
    rows = session.execute(select(tables.Product.code, tables.Product.definition)).all()
    return {code: Product.model_validate(definition) for code, definition in rows}


def _store(session: Session, products: dict[str, Product], *, now: dt.datetime, replace: bool) -> list[str]:
    existing = {p.code: p for p in session.scalars(select(tables.Product))}
    written: list[str] = []
    for code, product in products.items():
        definition = product.model_dump(mode="json")
        row = existing.get(code)
        if row is None:
            session.add(tables.Product(code=code, definition=definition, created_at=now))
            written.append(code)
        elif replace and row.definition != definition:
            row.definition = definition
            written.append(code)
    session.flush()
    return written


def ensure_builtin_products(session: Session, *, now: dt.datetime) -> list[str]:
    """Add the built-in products that the database does not have yet; returns the codes added."""
    return _store(session, builtin_products(), now=now, replace=False)


def add_products(session: Session, path: Path, *, now: dt.datetime) -> list[str]:
    """Load a products file (validated first; nothing is written if any product is invalid)."""
    return _store(session, load_products(path), now=now, replace=True)
