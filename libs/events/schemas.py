"""JSON Schemas of the published events, generated from the models.

`python -m libs.events.schemas` writes them to `libs/events/schemas/`; the
committed files are the published contract. A test fails when a model no longer
produces the committed schema of its version: change the model under a new
version, with an upcaster, instead of breaking consumers.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import EVENT_TYPES

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def generate() -> dict[str, str]:
    """File name -> schema text, for the current version of every event."""
    schemas = {}
    for event_type, event_class in sorted(EVENT_TYPES.items()):
        schema = event_class.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:receivables:event:{event_type}:v{event_class.current_version}"
        schema["x-topic"] = event_class.topic
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        schemas[schema_file_name(event_type, event_class.current_version)] = text
    return schemas


def write() -> list[str]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for name, text in generate().items():
        (SCHEMA_DIR / name).write_text(text)
        written.append(name)
    return written


if __name__ == "__main__":
    for name in write():
        print(f"wrote libs/events/schemas/{name}")
