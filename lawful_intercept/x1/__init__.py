"""X1 provisioning (ETSI TS 103 221-1): the messages (``messages``), the network element with
its persisted state and audit trail, the ADMF client, the HTTPS server, and the hooks that
apply tasks to an MF or a POI."""

from lawful_intercept.adapters.audit import AuditLog, AuditReport, verify_audit
from lawful_intercept.adapters.x1_state import X1State
from lawful_intercept.adapters.x1_transport import X1Server, certificate_fingerprint
from lawful_intercept.codec.x1 import messages
from lawful_intercept.codec.x1.schema import X1SchemaError
from lawful_intercept.services.admf import ADMFClient, plan_from_mapping
from lawful_intercept.services.x1_element import ElementHooks, NetworkElement
from lawful_intercept.services.x1_hooks import MFHooks, POIHooks

__all__ = [
    "ADMFClient",
    "AuditLog",
    "AuditReport",
    "ElementHooks",
    "MFHooks",
    "NetworkElement",
    "POIHooks",
    "X1SchemaError",
    "X1Server",
    "X1State",
    "certificate_fingerprint",
    "messages",
    "plan_from_mapping",
    "verify_audit",
]
