"""The configuration reference (docs/configuration-reference.md), written from the schemas
so that it cannot drift from what the files are checked against (``li config reference``)."""

from __future__ import annotations

import json

from lawful_intercept.services.config_schema import KINDS, Schema

__all__ = ["reference"]

_TITLES = {
    "mf": "MF configuration (`li mf run --config`)",
    "poi-x1": "POI X1 configuration (`li poi --x1`)",
    "admf-plan": "ADMF plan (`li admf apply|list|ping|deactivate|remove-destination`)",
}


def _values(schema: Schema) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" if not isinstance(v, str) else f"`{v}`"
                            for v in schema["enum"])  # fmt: skip
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    limits = [f"{word} {schema[key]}" for key, word in (
        ("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
        ("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"),
    ) if key in schema]  # fmt: skip
    if "format" in schema:
        limits.append(schema["format"])
    if "pattern" in schema and "format" not in schema:
        limits.append(f"pattern `{schema['pattern']}`".replace("|", "\\|"))
    return text + (f" ({', '.join(limits)})" if limits else "")


def _rows(schema: Schema, prefix: str) -> list[str]:
    rows = []
    required = set(schema.get("required", []))
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        items = sub.get("items") if sub.get("type") == "array" else None
        nested = sub.get("properties") and set(sub["properties"]) != {"cert", "key", "ca"}
        if isinstance(items, dict) and items.get("properties"):
            rows.append(f"| `{path}` | list | {'yes' if key in required else ''} | "
                        f"{sub.get('description', '')} |")  # fmt: skip
            rows += _rows(items, f"{path}[].")
        elif nested:
            rows.append(f"| `{path}` | object | {'yes' if key in required else ''} | "
                        f"{sub.get('description', '')} |")  # fmt: skip
            rows += _rows(sub, f"{path}.")
        else:
            kind = "TLS files: `cert`, `key`, `ca`" if sub.get("properties") else _values(sub)
            if isinstance(items, dict):
                kind = f"list of {_values(items)}"
            rows.append(f"| `{path}` | {kind} | {'yes' if key in required else ''} | "
                        f"{sub.get('description', '')} |")  # fmt: skip
    return rows


def reference() -> str:
    """The whole reference, Markdown."""
    out = [
        "# Configuration reference",
        "",
        "Written from the schemas the files are checked against (`li config reference`; a test",
        "keeps this page equal to it). Files are YAML or JSON; an unknown key is an error. Paths",
        "are relative to the file. `li config check FILE` validates a file. The guide with",
        "examples is [configuration.md](configuration.md); example files are in",
        "`examples/config/`.",
    ]
    for kind, schema in KINDS.items():
        out += ["", f"## {_TITLES[kind]}", "", "| key | value | required | what |",
                "|---|---|---|---|", *_rows(schema, "")]  # fmt: skip
    return "\n".join(out) + "\n"
