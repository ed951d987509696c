"""Every limit in schemas/fields.py fits the column that stores what it lets through, so a
value the boundary accepts can always be stored (and never fails in the database)."""
from __future__ import annotations

import pytest

from vectorflow.models import (
    ApiToken,
    Environment,
    MaintenancePeriod,
    NodePipelineStatus,
    Pipeline,
    Secret,
    Team,
    VectorNode,
)
from vectorflow.schemas import fields


@pytest.mark.parametrize("limit, column", [
    (fields.NAME_MAX, Team.name),
    (fields.NAME_MAX, Environment.name),
    (fields.NAME_MAX, Pipeline.name),
    (fields.NAME_MAX, Secret.name),
    (fields.NAME_MAX, ApiToken.name),
    (fields.NODE_NAME_MAX, VectorNode.name),
    (fields.NODE_NAME_MAX, VectorNode.host),
    (fields.VERSION_MAX, VectorNode.agent_version),
    (fields.VERSION_MAX, VectorNode.vector_version),
    (fields.VERSION_MAX, VectorNode.os),
    (fields.VERSION_MAX, VectorNode.running_as),
    (fields.REASON_MAX, VectorNode.maintenance_reason),
    (fields.REASON_MAX, VectorNode.last_update_error),
    (fields.REASON_MAX, MaintenancePeriod.reason),
    (fields.STATUS_CHECKSUM_MAX, NodePipelineStatus.config_checksum),
], ids=lambda value: getattr(value, "key", value))
def test_each_limit_fits_its_column(limit, column):
    assert limit <= column.type.length

