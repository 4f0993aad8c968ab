"""Importing the lender's book: products (YAML), loans and payments (CSV or Parquet).

The bulk path: a file becomes an all-string Polars frame, the domain's intake functions
check every row, and the good rows are written as frames through the store's bulk
writer, in one transaction. By default one bad row rejects the whole file; with
``skip_bad`` the good rows go in and the bad ones are written to a rejects file.
Importing the same file twice changes nothing: rows are keyed by the lender's ids.
"""

from forbear.services.imports.files import UnreadableFile, read_table
from forbear.services.imports.loans import import_loans
from forbear.services.imports.payments import import_payments
from forbear.services.imports.products import import_products, load_products_file
from forbear.services.imports.report import ImportReport

__all__ = [
    "ImportReport",
    "UnreadableFile",
    "import_loans",
    "import_payments",
    "import_products",
    "load_products_file",
    "read_table",
]
