"""Lab helpers, never for production: a development CA (``DevCA``), a software TPM and
SoftHSM2 tokens (``SoftwareTPM``, ``SoftHSMToken``), and a two-namespace test bed
(``TestBed``). The tests, the demos and the benchmarks use them."""

from lawful_intercept.lab.hardware import SOFTHSM_MODULE, SoftHSMToken, SoftwareTPM
from lawful_intercept.lab.network import TestBed
from lawful_intercept.lab.pki import DevCA

__all__ = ["SOFTHSM_MODULE", "DevCA", "SoftHSMToken", "SoftwareTPM", "TestBed"]
