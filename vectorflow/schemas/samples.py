"""The charts' series (services/samples.py): queries and responses of the series endpoints.

Columns, not rows: ``t[i]`` (epoch seconds, the bucket's start) goes with ``eventsIn[i]`` and
the rest, which is what the chart library draws without reshaping.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..services.samples import RANGES, SPARK_POINTS
from .base import RequestModel, ResponseModel, absent
from .fields import Id

SPARKLINES_MAX = 100
Range = Literal[tuple(RANGES)]  # type: ignore[valid-type]
Values = list[float | None]


class SeriesQuery(RequestModel):
    range: Range = absent(description="How far back: 1h (default), 6h or 24h.")


class SparklinesQuery(RequestModel):
    ids: list[Id] = Field(min_length=1, max_length=SPARKLINES_MAX,
                          description="Node ids; repeat the parameter. Nodes you cannot see "
                                      "are left out.")


class PipelineSeries(ResponseModel):
    """Closed buckets of one pipeline, rates per second summed over its nodes."""

    bucket_seconds: int
    t: list[int] = Field(description="Bucket starts, epoch seconds, oldest first.")
    events_in: Values
    events_out: Values
    errors: Values


class NodeSeries(PipelineSeries):
    """Closed buckets of one node: its pipelines' rates per second summed, and its host."""

    cpu: Values = Field(description="Percent busy.")
    memory: Values = Field(description="Percent used.")
    net_rx: Values = Field(description="Bytes per second.")
    net_tx: Values = Field(description="Bytes per second.")


class Sparklines(ResponseModel):
    """Events in per second of each node over its last closed buckets."""

    bucket_seconds: int
    points: int = Field(description=f"At most this many buckets per node ({SPARK_POINTS}).")
    nodes: dict[str, list[tuple[int, float | None]]] = Field(
        description="Node id -> [bucket start (epoch seconds), events in per second].")
