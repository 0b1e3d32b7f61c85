"""Allow ``python -m churnml``."""

from churnml.cli import main

main()
