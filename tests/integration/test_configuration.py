"""Strict configuration: every file is validated against its schema before anything starts,
every mistake is one line naming file, key path and remedy, and every key of the MF's
configuration reaches its effect."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lawful_intercept.adapters.aio import Peer
from lawful_intercept.codec.handover import codec
from lawful_intercept.codec.handover import model as m
from lawful_intercept.codec.x2x3.decoder import X2X3View
from lawful_intercept.codec.x2x3.pdu import X2X3PDU
from lawful_intercept.codec.x2x3.pdu import encode as encode_x2x3
from lawful_intercept.errors import ConfigurationError
from lawful_intercept.protection.encryption import IVRule
from lawful_intercept.protocol.mediator import HeaderTime, Mediator
from lawful_intercept.services.config_file import load_document
from lawful_intercept.services.config_schema import KINDS
from lawful_intercept.services.mf_config import MFConfig, load_mf_config
from lawful_intercept.services.x1_runner import load_ne_config

TLS = {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem"}
XID = "5b6f3c2e-8d14-4a7b-9e05-1c2d3e4f5a6b"
DID = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
ADMF = {"identifier": "admf-1", "certificate_sha256": "AB:" * 31 + "AB"}
POI = "CD:" * 31 + "CD"


def _poi(fingerprint: str) -> Peer:
    return Peer("127.0.0.1:1", "poi", fingerprint.lower().replace(":", ""))


def base() -> dict[str, Any]:
    """A complete MF configuration: every section present."""
    return {
        "listen": "127.0.0.1:9443",
        "tls": dict(TLS),
        "operator_id": "OPERATOR",
        "keystore": {"backend": "software", "file": "keys.json"},
        "queue": {"path": "q.db", "max_records": 10, "max_octets": 1000},
        "metrics": {"listen": "127.0.0.1:9100", "tls": dict(TLS)},
        "leas": [{"name": "LEA-A", "lemf": "127.0.0.1:9444", "tls": dict(TLS),
                  "encryption": "aES-256-CBC", "hi_key_file": "a.hikey"}],
        "tasks": [{"xid": XID, "liid": "LIID-1", "leas": ["LEA-A"]}],
        "pois": [{"certificate_sha256": POI, "xids": [XID]}],
        "x1": {"listen": "127.0.0.1:8443", "ne_identifier": "mf-1", "tls": dict(TLS),
               "admfs": [dict(ADMF)], "delivery_tls": dict(TLS),
               "leas": [{"did": DID, "aggregate": 2}]},
    }  # fmt: skip


def _load(tmp_path: Path, raw: dict[str, Any], name: str = "mf.json") -> MFConfig:
    path = tmp_path / name
    path.write_text(json.dumps(raw) if name.endswith(".json") else yaml.safe_dump(raw))
    return load_mf_config(path)


def _error(tmp_path: Path, raw: Any, kind: str = "mf", name: str = "f.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(raw) if name.endswith(".json") else yaml.safe_dump(raw))
    with pytest.raises(ConfigurationError) as info:
        load_document(path, kind)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("kind", "change", "expected"),
    [
        ("mf", lambda r: r["leas"][0].update(encrytion="aES-256-CBC"),
         "leas[0]: unknown key 'encrytion' (did you mean 'encryption'?)"),
        ("mf", lambda r: r.update(queu=r.pop("queue")),
         "the top level: unknown key 'queu' (did you mean 'queue'?)"),
        ("mf", lambda r: r["leas"][0].update(encryption="aES-256-cbc"),
         "leas[0].encryption: 'aES-256-cbc' is not one of aES-192-CBC, aES-256-CBC, true, false"),
        ("mf", lambda r: r["tasks"][0].update(xid="not-a-uuid"),
         "tasks[0].xid: 'not-a-uuid' is not a uuid"),
        ("mf", lambda r: r["leas"][0].pop("lemf"), "leas[0]: 'lemf' is required"),
        ("mf", lambda r: r["x1"]["admfs"].clear(), "x1.admfs: [] should be non-empty"),
        ("mf", lambda r: r["keystore"].pop("file"), "keystore: 'file' is required"),
        ("mf", lambda r: r["leas"][0].update(header_time="microseconds"),
         "leas[0].header_time: 'microseconds' is not one of timeStamp, microSecondTimeStamp, "
         "both"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_with_its_path_and_remedy(
    tmp_path: Path, kind: str, change: Callable[[dict[str, Any]], Any], expected: str
) -> None:
    raw = base()
    change(raw)
    assert _error(tmp_path, raw, kind) == expected


def test_the_plan_mistakes_that_changed_what_was_intercepted_are_refused(tmp_path: Path) -> None:
    """``deliverytype: X2Only`` activated the task X2andX3 (content on an IRI-only warrant);
    ``friendlyname`` erased the destination's name. Both are now unknown keys."""
    plan = {
        "ne": {"address": "127.0.0.1:8443", "identifier": "mf-1"},
        "admf": {"identifier": "admf-1", "cert": "a.pem", "key": "a.key", "ca": "ca.pem"},
        "destinations": [{"did": DID, "address": "127.0.0.1", "port": 9444,
                          "friendlyname": "LEA-A"}],
        "tasks": [{"xid": XID, "targets": [{"ipv4Address": "10.0.0.1"}], "dids": [DID],
                   "deliverytype": "X2Only"}],
    }  # fmt: skip
    message = _error(tmp_path, plan, "admf-plan", "plan.yaml")
    assert message == (
        "destinations[0]: unknown key 'friendlyname' (did you mean 'friendly_name'?) (and 1 more)"
    )
    del plan["destinations"][0]["friendlyname"]
    message = _error(tmp_path, plan, "admf-plan", "plan.yaml")
    assert message == "tasks[0]: unknown key 'deliverytype' (did you mean 'delivery_type'?)"
    plan["tasks"][0]["delivery_type"] = plan["tasks"][0].pop("deliverytype")
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(plan))
    assert load_document(tmp_path / "ok.yaml", "admf-plan")["tasks"][0]["delivery_type"] == "X2Only"


def test_files_that_are_not_configurations_name_the_file_and_the_place(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("leas: [\n  - name: x\n  lemf")
    with pytest.raises(ConfigurationError, match=r"bad.yaml: not YAML: .* \(line 2, column 3\)"):
        load_document(tmp_path / "bad.yaml", "mf")
    (tmp_path / "bad.json").write_text('{"tls": }')
    with pytest.raises(ConfigurationError, match=r"bad.json: not JSON: .* \(line 1, column 9\)"):
        load_document(tmp_path / "bad.json", "mf")
    with pytest.raises(ConfigurationError, match=r"missing.json: cannot be read: No such file"):
        load_document(tmp_path / "missing.json", "mf")
    with pytest.raises(ConfigurationError, match=r": cannot be read: Is a directory"):
        load_document(tmp_path, "mf")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigurationError, match=r"the top level: \[1\] is not of type object"):
        load_document(tmp_path / "list.yaml", "mf")


def test_yaml_and_json_give_the_same_configuration(tmp_path: Path) -> None:
    assert _load(tmp_path, base(), "mf.yaml") == _load(tmp_path, base(), "mf.json")


def test_a_task_naming_no_configured_lea_is_refused(tmp_path: Path) -> None:
    raw = base()
    raw["tasks"][0]["leas"] = ["LEA-B"]
    with pytest.raises(ConfigurationError, match=r"tasks\[0\].leas: no LEA named 'LEA-B'"):
        _load(tmp_path, raw)


def _operator_in_header(config: MFConfig) -> bytes:
    """The operatorIdentifier of the pSHeader the MF writes for the configured task."""
    mediator = Mediator(config.tasks, [lea.config for lea in config.leas], now=0.0)
    x3 = encode_x2x3(
        X2X3PDU(
            pdu_type=2, payload_format=5, payload_direction=2, xid=uuid.UUID(XID),
            payload=bytes.fromhex("4500001c000100004011f9c8c0000201c00002020035003500080000"),
        )
    )  # fmt: skip
    out = mediator.on_pdu(X2X3View(x3), now=1.0)
    header = codec.decode(out[0].octets).header
    return header.communication_identifier.network_identifier.operator_identifier


def _set(raw: dict[str, Any], path: str, value: Any) -> None:
    node: Any = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[0] if part == "[]" else node[part]
    node[parts[-1]] = value


X1_PROTECTION = "x1.leas.[]."
#: (key path, value, the effect the loaded configuration shows); "[]" is the first item
EFFECTS: list[tuple[str, Any, Callable[[MFConfig, Path], bool]]] = [
    ("listen", "127.0.0.2:1234", lambda c, _: c.listen == ("127.0.0.2", 1234)),
    ("tls", {"cert": "x.pem", "key": "x.key", "ca": "x-ca.pem"},
     lambda c, d: (c.tls.certificate, c.tls.private_key, c.tls.ca_bundle)
     == (d / "x.pem", d / "x.key", d / "x-ca.pem")),
    ("operator_id", "OP-7", lambda c, _: c.tasks[0].operator_id == b"OP-7"),
    ("keystore.backend", "tpm", lambda c, _: c.keystore["backend"] == "tpm"),
    ("keystore.file", "k2.json", lambda c, _: c.keystore["file"] == "k2.json"),
    ("keystore.module", "/m.so", lambda c, _: c.keystore["module"] == "/m.so"),
    ("keystore.token", "t", lambda c, _: c.keystore["token"] == "t"),
    ("keystore.state_dir", "tpm", lambda c, _: c.keystore["state_dir"] == "tpm"),
    ("keystore.tcti", "swtpm:port=1", lambda c, _: c.keystore["tcti"] == "swtpm:port=1"),
    ("metrics.listen", "127.0.0.9:9101",
     lambda c, _: c.metrics is not None and c.metrics[0] == ("127.0.0.9", 9101)),
    ("metrics.tls", {**TLS, "cert": "m.pem"},
     lambda c, d: c.metrics is not None and c.metrics[1].certificate == d / "m.pem"),
    ("queue.path", "q2.db", lambda c, d: c.queue_path == d / "q2.db"),
    ("queue.max_records", 77, lambda c, _: c.max_records == 77),
    ("queue.max_octets", 7777, lambda c, _: c.max_octets == 7777),
    ("leas.[].name", "LEA-Z", lambda c, _: c.leas[0].config.name == "LEA-Z"),
    ("leas.[].lemf", "[::1]:99", lambda c, _: c.leas[0].lemf == ("::1", 99)),
    ("leas.[].tls", {**TLS, "cert": "l.pem"},
     lambda c, d: c.leas[0].tls is not None and c.leas[0].tls.certificate == d / "l.pem"),
    ("leas.[].server_hostname", "lemf-z", lambda c, _: c.leas[0].server_hostname == "lemf-z"),
    ("leas.[].acknowledgement", False, lambda c, _: c.leas[0].acknowledgement is False),
    ("leas.[].allow_plain_tcp", True, lambda c, _: c.leas[0].tls is None),
    ("leas.[].encryption", "aES-192-CBC", lambda c, _: c.leas[0].config.encryption is not None
     and c.leas[0].config.encryption.encryption_type is m.EncryptionType.AES_192_CBC),
    ("leas.[].hi_key_file", "z.hikey", lambda c, d: c.leas[0].hi_key_file == d / "z.hikey"),
    ("leas.[].encryption_iv", "zero", lambda c, _: c.leas[0].config.encryption is not None
     and c.leas[0].config.encryption.iv_rule is IVRule.ZERO),
    ("leas.[].encrypted_payload_type", None, lambda c, _: c.leas[0].config.encryption
     is not None and c.leas[0].config.encryption.payload_type is None),
    ("leas.[].integrity_every", 5, lambda c, _: c.leas[0].config.integrity_every == 5),
    ("leas.[].integrity_interval", 2.5, lambda c, _: c.leas[0].config.integrity_interval == 2.5),
    ("leas.[].sign_every", 3, lambda c, _: c.leas[0].config.sign_every == 3),
    ("leas.[].aggregate", 8, lambda c, _: c.leas[0].config.aggregate == 8),
    ("leas.[].aggregate_wait", 0.5, lambda c, _: c.leas[0].config.aggregate_wait == 0.5),
    ("leas.[].header_time", "both", lambda c, _: c.leas[0].config.header_time is HeaderTime.BOTH),
    ("leas.[].li_ps_domain_id", "0.4.0.2.2.5.1.40",
     lambda c, _: c.leas[0].config.li_ps_domain_id == "0.4.0.2.2.5.1.40"),
    ("leas.[].compatibility", "openli",
     lambda c, _: c.leas[0].config.header_time is HeaderTime.MICRO_SECOND),
    ("tasks.[].xid", DID, lambda c, _: str(c.tasks[0].xid) == DID),
    ("tasks.[].liid", "LIID-Q", lambda c, _: c.tasks[0].liid == b"LIID-Q"),
    ("tasks.[].leas", [], lambda c, _: c.tasks[0].leas == ()),
    ("tasks.[].network_element_id", "NE-9", lambda c, _: c.tasks[0].network_element_id == b"NE-9"),
    ("tasks.[].fiveg", True, lambda c, _: c.tasks[0].fiveg),
    ("pois.[].certificate_sha256", "EF" * 32,
     lambda c, _: c.pois.admits(_poi("EF" * 32)) and not c.pois.admits(_poi(POI))),
    ("pois.[].xids", [DID], lambda c, _: c.pois.scope(_poi(POI)) == frozenset({DID})),
    ("tasks.[].country", "NL", lambda c, _: c.tasks[0].delivery_country_code == "NL"
     and c.tasks[0].authorization_country_code == "NL"),
    ("x1.listen", "127.0.0.3:8", lambda c, d: _ne(c, d).port == 8),
    ("x1.ne_identifier", "mf-9", lambda c, d: _ne(c, d).ne_id == "mf-9"),
    ("x1.tls", {**TLS, "key": "n.key"}, lambda c, d: _ne(c, d).tls.private_key == d / "n.key"),
    ("x1.admfs.[].identifier", "admf-9",
     lambda c, d: _ne(c, d).admfs == {"ab" * 32: ("admf-9",)}),
    ("x1.admfs.[].certificate_sha256", "cd" * 32,
     lambda c, d: list(_ne(c, d).admfs) == ["cd" * 32]),
    ("x1.state", "s.db", lambda c, d: _ne(c, d).state == d / "s.db"),
    ("x1.audit", "a.db", lambda c, d: _ne(c, d).audit == d / "a.db"),
    ("x1.delivery_tls", {**TLS, "ca": "d.pem"},
     lambda c, d: c.x1_delivery_tls is not None and c.x1_delivery_tls.ca_bundle == d / "d.pem"),
    ("x1.leas.[].did", XID, lambda c, _: list(c.x1_protection) == [XID]),
    ("cluster.brokers", ["10.0.0.5:5671", "[::1]:5672"],
     lambda c, _: _cluster(c).brokers == (("10.0.0.5", 5671), ("::1", 5672))),
    ("cluster.broker_user", "mf-node", lambda c, _: _cluster(c).broker_user == "mf-node"),
    ("cluster.broker_tls", {**TLS, "cert": "b.pem"}, lambda c, d: _cluster(c).broker_tls
     is not None and _cluster(c).broker_tls.certificate == d / "b.pem"),  # type: ignore[union-attr]
    ("cluster.roles", ["delivery"], lambda c, _: _cluster(c).roles == ("delivery",)),
    ("cluster.partitions", 64, lambda c, _: _cluster(c).partitions == 64),
    ("cluster.prefix", "mf-east", lambda c, _: _cluster(c).prefix == "mf-east"),
    ("cluster.sealing_key", "ck.db", lambda c, d: _cluster(c).sealing_key == d / "ck.db"),
    ("cluster.epoch_batches", 9, lambda c, _: _cluster(c).epoch_batches == 9),
    ("cluster.epoch_seconds", 0.25, lambda c, _: _cluster(c).epoch_seconds == 0.25),
    ("cluster.deliver", [], lambda c, _: _cluster(c).deliver == ()),
]  # fmt: skip


def _cluster(config: MFConfig) -> Any:
    assert config.cluster is not None
    return config.cluster


def _ne(config: MFConfig, base_dir: Path) -> Any:
    assert config.x1 is not None
    return load_ne_config(config.x1, base_dir)


def _x1_effect(key: str, value: Any) -> tuple[str, Any, Callable[[MFConfig, Path], bool]]:
    """The same protection key under x1.leas, seen on the DID's LEAConfig."""
    lea_effect = next(effect for path, _, effect in EFFECTS if path == f"leas.[].{key}")

    def check(config: MFConfig, base_dir: Path) -> bool:
        lea, key_file = config.x1_protection[DID]
        view = attrs_evolve_lea(config, lea, key_file)
        return lea_effect(view, base_dir)

    return X1_PROTECTION + key, value, check


def attrs_evolve_lea(config: MFConfig, lea: Any, key_file: Path | None) -> MFConfig:
    """``config`` with its first LEA's protection replaced by an X1 DID's (same checks)."""
    import attrs

    first = attrs.evolve(config.leas[0], config=lea, hi_key_file=key_file)
    return attrs.evolve(config, leas=(first, *config.leas[1:]))


_PROTECTION_KEYS = [
    (path.removeprefix("leas.[]."), value)
    for path, value, _ in EFFECTS
    if path.startswith("leas.[].")
    and path.removeprefix("leas.[].")
    not in ("name", "lemf", "tls", "server_hostname", "acknowledgement", "allow_plain_tcp")
]
ALL_EFFECTS = EFFECTS + [_x1_effect(key, value) for key, value in _PROTECTION_KEYS]


@pytest.mark.parametrize(("path", "value", "effect"), ALL_EFFECTS, ids=[e[0] for e in ALL_EFFECTS])
def test_each_key_reaches_its_effect(
    tmp_path: Path, path: str, value: Any, effect: Callable[[MFConfig, Path], bool]
) -> None:
    raw = base()
    if path.startswith(X1_PROTECTION):
        raw["x1"]["leas"][0].update(encryption="aES-256-CBC", hi_key_file="a.hikey")
    if path == "keystore.backend":
        raw["keystore"]["state_dir"] = "tpm"
    if path == "leas.[].name":
        raw["tasks"][0]["leas"] = [value]
    if path == "leas.[].allow_plain_tcp":  # delivery without TLS, in a lab
        del raw["leas"][0]["tls"]
    if path.startswith("cluster."):  # a cluster node: tasks and LEAs given, not over X1
        del raw["x1"]
        raw["cluster"] = {"brokers": ["127.0.0.1:5672"]}
    _set(raw, path, copy.deepcopy(value))
    config = _load(tmp_path, raw)
    assert effect(config, tmp_path), path


def _paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        here = f"{prefix}{key}"
        if (
            sub.get("type") == "array"
            and isinstance(sub.get("items"), dict)
            and sub["items"].get("properties")
        ):
            out |= _paths(sub["items"], f"{here}.[].")
        elif sub.get("properties") and key not in ("tls", "delivery_tls", "broker_tls"):  # TLS
            out |= _paths(sub, f"{here}.")
        else:
            out.add(here)
    return out


def test_every_key_of_the_mf_schema_has_an_effect_test() -> None:
    assert _paths(KINDS["mf"]) == {path for path, _, _ in ALL_EFFECTS}


def test_the_operator_id_reaches_the_pspdu_header(tmp_path: Path) -> None:
    """It said "OPERATOR" whatever the file said."""
    raw = base()
    raw["operator_id"] = "OP-NZ"
    raw["leas"][0].pop("encryption")
    assert _operator_in_header(_load(tmp_path, raw)) == b"OP-NZ"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["cluster"].update(deliver=["LEA-Q"]), "cluster.deliver: no LEA named 'LEA-Q'"),
        (
            lambda r: r.update(x1={**base()["x1"], "state": "x1.db"}),
            "x1.state: a cluster keeps its X1 state in the broker",
        ),
    ],
)
def test_a_cluster_section_is_checked_against_the_rest(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw = base()
    del raw["x1"]
    raw["cluster"] = {"brokers": ["127.0.0.1:5672"]}
    change(raw)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        _load(tmp_path, raw)
