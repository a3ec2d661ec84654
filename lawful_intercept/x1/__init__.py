"""X1 provisioning (ETSI TS 103 221-1): messages, the network element, the ADMF client."""

from lawful_intercept.x1 import messages
from lawful_intercept.x1.admf import ADMFClient, plan_from_mapping
from lawful_intercept.x1.elements import MFHooks, POIHooks
from lawful_intercept.x1.ne import ElementHooks, NetworkElement
from lawful_intercept.x1.schema import X1SchemaError
from lawful_intercept.x1.state import X1State
from lawful_intercept.x1.transport import X1Server, certificate_fingerprint

__all__ = [
    "ADMFClient",
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
]
