"""Marketer-facing segments from per-customer recency, order counts and value."""

from churnml.segments.lifecycle import (
    SEGMENT_ACTIONS,
    SEGMENTS,
    VALUE_TIERS,
    SegmentRules,
    lifecycle_segment,
    value_tier,
)

__all__ = [
    "SEGMENTS",
    "SEGMENT_ACTIONS",
    "VALUE_TIERS",
    "SegmentRules",
    "lifecycle_segment",
    "value_tier",
]
