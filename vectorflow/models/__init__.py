"""SQLAlchemy models, split by domain; import from here."""
from .accounts import Role, Team, TeamMember, User, UserSession
from .alerts import Alert, AlertRule, NotificationChannel, NotificationDelivery
from .audit import AuditLog
from .base import utcnow
from .events import Event
from .fleet import (
    DeploymentMode,
    Environment,
    NodeStatus,
    NodeStatusEvent,
    SecretBackend,
    VectorNode,
)
from .maintenance import (
    DrainState,
    ExitKind,
    MaintenancePeriod,
    MaintenanceWindow,
    MaintenanceWindowRun,
)
from .pipelines import LogLevel, NodePipelineStatus, Pipeline, PipelineVersion, ProcessStatus, Secret
from .samples import NodeSample, PipelineSample
from .settings import SystemSettings
from .telemetry import LogLine, SampleRequest, SampleStatus, Tap, TapEvent, TapStatus
from .tokens import ApiToken

__all__ = [
    "Alert", "AlertRule", "NotificationChannel", "NotificationDelivery",
    "ApiToken", "AuditLog", "DeploymentMode", "DrainState", "Environment", "Event", "ExitKind",
    "LogLevel", "MaintenancePeriod", "MaintenanceWindow", "MaintenanceWindowRun",
    "NodePipelineStatus", "NodeSample", "NodeStatus", "NodeStatusEvent", "Pipeline", "PipelineVersion",
    "PipelineSample", "ProcessStatus", "Role", "Secret", "SecretBackend", "SystemSettings", "Team", "TeamMember",
    "User", "UserSession", "VectorNode", "utcnow",
    "LogLine", "SampleRequest", "SampleStatus", "Tap", "TapEvent", "TapStatus",
]
