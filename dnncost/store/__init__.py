"""The dataset store: dnncost/store/core.py (schema, connection, transactions),
reads.py (the read queries) and writes.py (the upserts). All of dnncost's SQL lives in
this package."""

from dnncost.store.core import DEFAULT_STORE, SCHEMA_VERSION, Store
from dnncost.store.reads import USABLE
from dnncost.store.writes import LAYER_FIELDS

__all__ = ["DEFAULT_STORE", "LAYER_FIELDS", "SCHEMA_VERSION", "Store", "USABLE"]
