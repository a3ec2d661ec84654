"""X1 XML: a parser that refuses what X1 never needs, and XSD validation (TS 103 221-1
clause 7.2.1: messages are valid against the schema, on sending and on receipt).

The parser refuses any document type declaration (so no external entity, no entity
expansion — the "billion laughs" and XXE families), never touches the network, and keeps
libxml2's limits on depth and text size; documents over ``MAX_DOCUMENT`` octets are refused
before parsing. The schemas are ETSI's, verbatim, in ``schemas/`` (BSD-3-Clause, ETSI); a
document's own schema hints are ignored.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, cast

from lxml import etree

from lawful_intercept.errors import DecodeError

__all__ = ["MAX_DOCUMENT", "SCHEMA_DIR", "X1SchemaError", "parse", "schema", "validate"]

SCHEMA_DIR = Path(__file__).parent / "schemas"
MAX_DOCUMENT = 1 << 20

_WRAPPER = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:x-lawful-intercept:x1-schemas">
  <xs:import namespace="http://uri.etsi.org/03280/common/2017/07"
      schemaLocation="TS_103_280.xsd"/>
  <xs:import namespace="http://uri.etsi.org/03221/X1/2017/10/HashedID"
      schemaLocation="TS_103_221_01_HashedID.xsd"/>
  <xs:import namespace="http://uri.etsi.org/03221/X1/2017/10"
      schemaLocation="TS_103_221_01.xsd"/>
  <xs:import namespace="urn:3GPP:ns:li:3GPPX1Extensions:r19:v2"
      schemaLocation="urn_3GPP_ns_li_3GPPX1Extensions.xsd"/>
</xs:schema>"""


class X1SchemaError(DecodeError):
    """A document that is not well-formed, not allowed, or not valid against the schema."""


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=True,
    )  # fmt: skip
    return parser


@functools.cache
def schema() -> etree.XMLSchema:
    """The X1 schema set (TS 103 221-1 with TS 103 280, HashedID and the 3GPP X1 extensions
    of TS 33.128), loaded once."""
    wrapper = etree.fromstring(_WRAPPER, _parser(), base_url=str(SCHEMA_DIR / "wrapper.xsd"))
    return etree.XMLSchema(etree.ElementTree(wrapper))


def parse(document: bytes) -> etree._Element:
    """Parse an X1 document; X1SchemaError (with the offset where known) if it is too large,
    declares a document type, or is not well-formed."""
    if len(document) > MAX_DOCUMENT:
        raise X1SchemaError(MAX_DOCUMENT, f"document over {MAX_DOCUMENT} octets")
    doctype = document.find(b"<!DOCTYPE")
    if doctype >= 0:
        raise X1SchemaError(doctype, "document type declarations are not allowed in X1")
    try:
        root = etree.fromstring(document, _parser())
    except etree.XMLSyntaxError as exc:
        raise X1SchemaError(0, f"not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise X1SchemaError(0, "document type declarations are not allowed in X1")
    return root


def validate(root: etree._Element) -> None:
    """X1SchemaError naming the first schema violation (libxml2's message: it may quote the
    offending value, so it goes to the ADMF in the error response, never to the log)."""
    checker = schema()
    if not checker.validate(root):
        error = cast(Any, checker.error_log).last_error  # lxml-stubs leave _ErrorLog empty
        raise X1SchemaError(0, f"not valid against TS 103 221-1: {error.message}")
