"""The dataset store: dnncost/store/core.py (schema, transactions, writes) and
dnncost/store/reads.py (the read queries). All of dnncost's SQL lives in this package."""

from dnncost.store.core import DEFAULT_STORE, LAYER_FIELDS, SCHEMA_VERSION, Store
from dnncost.store.reads import USABLE

__all__ = ["DEFAULT_STORE", "LAYER_FIELDS", "SCHEMA_VERSION", "Store", "USABLE"]
