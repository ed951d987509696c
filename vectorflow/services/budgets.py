"""Disruption budgets: how many healthy nodes outside maintenance must keep running a pipeline.

Each deployed pipeline has a budget: ``min_available`` nodes, or ``min_available_percent`` of
its environment's nodes (rounded up), or by default 1 (the coverage guard: never leave a
deployed pipeline on no healthy node). A node *counts* toward a pipeline when its effective
status is HEALTHY, it is not in maintenance and it reports the pipeline RUNNING.

Taking a set of nodes into maintenance breaks a budget when the set holds at least one node
that counts toward the pipeline and fewer than the required nodes would be left. A set whose
nodes do not count toward a pipeline never breaks its budget, even if the pipeline is already
short (like a Kubernetes PodDisruptionBudget, which never blocks evicting an unready pod).

``shortfalls`` checks a whole set (single and bulk maintenance); ``admit`` takes nodes one
by one, in the order given, while the budgets allow (maintenance windows). Callers hold the
environment locks (services.locks) so two decisions cannot both spend the last node.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import NodePipelineStatus, NodeStatus, Pipeline, ProcessStatus, VectorNode
from ..schemas.fields import BUDGET_MIN_AVAILABLE_MAX
from . import ServiceError
from .actors import Actor
from .audit import record
from .nodes import effective_status_clause, unreachable_cutoff
from .pipelines import lock_pipeline

DEFAULT_MIN_AVAILABLE = 1


@dataclass(frozen=True)
class Budget:
    """A pipeline's disruption budget; both None is the default (1 node)."""

    min_available: int | None = None
    min_available_percent: int | None = None

    @property
    def is_default(self) -> bool:
        return self.min_available is None and self.min_available_percent is None

    def required(self, environment_nodes: int) -> int:
        """Return how many counting nodes must remain, for an environment of that many nodes."""
        if self.min_available_percent is not None:
            return math.ceil(self.min_available_percent * environment_nodes / 100)
        return DEFAULT_MIN_AVAILABLE if self.min_available is None else self.min_available

    def as_dict(self) -> dict:
        return {"minAvailable": self.min_available,
                "minAvailablePercent": self.min_available_percent}


def budget_of(pipeline: Pipeline) -> Budget:
    """Return the budget stored on a pipeline."""
    return Budget(pipeline.min_available, pipeline.min_available_percent)


def check_budget(budget: Budget) -> Budget:
    """Return ``budget``; refuse (400 naming the field) one that gives both numbers or one
    out of range (callers that do not read the API's model: the page form, the CLI)."""
    if budget.min_available is not None and budget.min_available_percent is not None:
        raise ServiceError("give either minAvailable or minAvailablePercent, not both",
                           {"disruptionBudget": "give either minAvailable or minAvailablePercent"})
    for key, number, top in (("minAvailable", budget.min_available, BUDGET_MIN_AVAILABLE_MAX),
                             ("minAvailablePercent", budget.min_available_percent, 100)):
        if number is not None and not 0 <= number <= top:
            raise ServiceError(f"{key} must be a whole number from 0 to {top}",
                               {f"disruptionBudget.{key}": f"must be at least 0 and at most {top}"})
    return budget


def set_budget(pipeline: Pipeline, budget: Budget, *, actor: Actor | None = None) -> Pipeline:
    """Store a pipeline's budget (audited); the budget it already has changes nothing."""
    check_budget(budget)
    pipeline = lock_pipeline(pipeline)
    before = budget_of(pipeline)
    if before == budget:
        return pipeline
    pipeline.min_available = budget.min_available
    pipeline.min_available_percent = budget.min_available_percent
    db.session.flush()
    record("pipeline.disruption_budget_changed", entity_type="pipeline", entity_id=pipeline.id,
           team_id=pipeline.environment.team_id, environment_id=pipeline.environment_id,
           before=before.as_dict(), after=budget.as_dict(),
           details={"pipelineName": pipeline.name}, actor=actor)
    return pipeline


# ---------------------------------------------------------------- counting

def _counting(cutoff: datetime):
    """Conditions on NodePipelineStatus joined to VectorNode: this node counts toward it."""
    return (NodePipelineStatus.status == ProcessStatus.RUNNING,
            VectorNode.maintenance_mode.is_(False),
            effective_status_clause(NodeStatus.HEALTHY, cutoff))


def available_counts(pipeline_ids: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """Return, per pipeline, how many nodes count toward it now (one grouped query)."""
    ids = sorted(set(pipeline_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(NodePipelineStatus.pipeline_id, sa.func.count())
        .join(VectorNode, VectorNode.id == NodePipelineStatus.node_id)
        .where(NodePipelineStatus.pipeline_id.in_(ids), *_counting(unreachable_cutoff(now)))
        .group_by(NodePipelineStatus.pipeline_id)
    ).all()
    counts = dict.fromkeys(ids, 0)
    counts.update({pipeline_id: count for pipeline_id, count in rows})
    return counts


def environment_sizes(env_ids: Iterable[str]) -> dict[str, int]:
    """Return how many nodes each environment has (the base of percentage budgets)."""
    ids = sorted(set(env_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(VectorNode.environment_id, sa.func.count())
        .where(VectorNode.environment_id.in_(ids)).group_by(VectorNode.environment_id)
    ).all()
    return dict.fromkeys(ids, 0) | dict(rows)


@dataclass(frozen=True)
class BudgetState:
    """A pipeline's budget and what holds now: the nodes required and the nodes counting."""

    budget: Budget
    required: int
    available: int


def states(pipelines: list[Pipeline], now: datetime | None = None) -> dict[str, BudgetState]:
    """Return each pipeline's budget state, keyed by id (two queries for any number)."""
    available = available_counts((p.id for p in pipelines), now)
    sizes = environment_sizes(p.environment_id for p in pipelines
                              if p.min_available_percent is not None)
    return {p.id: BudgetState(budget_of(p), budget_of(p).required(sizes.get(p.environment_id, 0)),
                              available[p.id])
            for p in pipelines}


@dataclass(frozen=True)
class Shortfall:
    """A deployed pipeline whose budget a change would break, with the numbers."""

    pipeline: Pipeline
    required: int
    available: int  # nodes counting now
    remaining: int  # nodes that would still count after the change

    def describe(self) -> str:
        nodes = "node" if self.required == 1 else "nodes"
        return (f"{self.pipeline.name} (needs {self.required} healthy {nodes} outside "
                f"maintenance; {self.remaining} would remain)")

    def as_dict(self) -> dict:
        """Represent it as the API does (schemas.api.BudgetShortfall), for errors and audit."""
        from ..schemas.api import BudgetShortfall

        return BudgetShortfall.of(self).as_json()


@dataclass
class _Ledger:
    """What the budgets of the pipelines some nodes count toward allow."""

    counts_toward: dict[str, set[str]]  # node id -> deployed pipeline ids it counts toward
    pipelines: dict[str, Pipeline]
    available: dict[str, int]
    required: dict[str, int]

    def shortfalls(self, node_ids: Iterable[str], taken: Counter | None = None) -> list[Shortfall]:
        """Return the budgets broken if ``node_ids`` entered maintenance, on top of ``taken``
        (per pipeline, the counting nodes already admitted), ordered by pipeline name."""
        taken = Counter(taken or {})
        adding = Counter(p for node_id in set(node_ids) for p in self.counts_toward.get(node_id, ()))
        found = []
        for p, n in adding.items():
            remaining = self.available[p] - taken[p] - n
            if remaining < self.required[p]:
                found.append(Shortfall(self.pipelines[p], self.required[p], self.available[p],
                                       remaining))
        return sorted(found, key=lambda s: (s.pipeline.name, s.pipeline.environment_id))


def _ledger(nodes: list[VectorNode], now: datetime | None) -> _Ledger:
    ids = sorted({n.id for n in nodes})
    counts_toward: dict[str, set[str]] = defaultdict(set)
    if ids:
        rows = db.session.execute(
            sa.select(NodePipelineStatus.node_id, NodePipelineStatus.pipeline_id)
            .join(VectorNode, VectorNode.id == NodePipelineStatus.node_id)
            .join(Pipeline, Pipeline.id == NodePipelineStatus.pipeline_id)
            .where(NodePipelineStatus.node_id.in_(ids), Pipeline.deployed.is_(True),
                   *_counting(unreachable_cutoff(now)))
        ).all()
        for node_id, pipeline_id in rows:
            counts_toward[node_id].add(pipeline_id)
    pipeline_ids = sorted({p for ps in counts_toward.values() for p in ps})
    pipelines = {p.id: p for p in db.session.scalars(
        sa.select(Pipeline).where(Pipeline.id.in_(pipeline_ids)))} if pipeline_ids else {}
    found = states(list(pipelines.values()), now)
    return _Ledger(counts_toward, pipelines, {p: s.available for p, s in found.items()},
                   {p: s.required for p, s in found.items()})


def shortfalls(nodes: Iterable[VectorNode], now: datetime | None = None) -> list[Shortfall]:
    """Return the budgets broken if all ``nodes`` entered maintenance together."""
    nodes = list(nodes)
    if not nodes:
        return []
    return _ledger(nodes, now).shortfalls(n.id for n in nodes)


def admit(nodes: Iterable[VectorNode], now: datetime | None = None
          ) -> tuple[list[VectorNode], list[tuple[VectorNode, str]]]:
    """Take ``nodes`` one by one, in order, while every budget allows; return the admitted
    nodes and the others, each with the reason (naming the pipeline and the numbers)."""
    nodes = list(nodes)
    if not nodes:
        return [], []
    ledger = _ledger(nodes, now)
    taken: Counter = Counter()
    admitted: list[VectorNode] = []
    refused: list[tuple[VectorNode, str]] = []
    for node in nodes:
        broken = ledger.shortfalls([node.id], taken)
        if broken:
            refused.append((node, "disruption budget: " + "; ".join(s.describe() for s in broken)))
        else:
            admitted.append(node)
            taken.update(ledger.counts_toward.get(node.id, ()))
    return admitted, refused
