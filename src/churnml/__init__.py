"""churnml: repurchase probability, CLV and next-purchase timing from transaction logs."""

__version__ = "0.1.0"
