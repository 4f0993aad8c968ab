"""Pure domain code: plain data and Polars frames in, plain data and frames out.

Nothing here does I/O, reads a clock or settings, or imports Forbear code from outside
``forbear.domain``.
"""
