"""Allow ``python -m churnml``."""

from churnml.cli import main

if __name__ == "__main__":
    main()
