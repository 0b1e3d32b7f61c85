"""Campaign rules over score tables: whom to contact, in what order, within a budget.

Pure functions of a score table (the contract's columns); no model, no I/O.
"""

from churnml.campaign.recall import RECALL_COLUMNS, RECALL_SEGMENTS, recall_list

__all__ = ["RECALL_COLUMNS", "RECALL_SEGMENTS", "recall_list"]
