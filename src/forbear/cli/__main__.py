"""``python -m forbear.cli``: the same as the ``forbear`` console script."""

from forbear.cli import main

main()
