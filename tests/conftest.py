import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest
from pki import CA


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, object]:
    """A trusted CA with an MF (server) and a POI (client), and a rogue CA's POI."""
    ca = CA(tmp_path, "li-test")
    rogue = CA(tmp_path, "rogue")
    return {
        "mf": ca.config("mf", server=True),
        "poi": ca.config("poi-1", server=False),
        "rogue_poi": rogue.config("poi-rogue", server=False, trust=ca),
    }
