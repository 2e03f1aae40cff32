"""The committed JSON Schemas are the published contract: a model may not drift from
the schema of its version. A change that would break consumers gets a new version and
an upcaster instead."""

from __future__ import annotations

import json
import re
from pathlib import Path

from libs.events import EVENT_TYPES
from libs.events.base import UPCASTERS
from libs.events.schemas import SCHEMA_DIR, generate, schema_file_name

FILE_NAME = re.compile(r"^(?P<event_type>[A-Za-z0-9]+)\.v(?P<version>\d+)\.json$")


def schema_drift(schema_dir: Path, generated: dict[str, str]) -> list[str]:
    """What a developer must do so the committed schemas and the models agree."""
    problems = []
    for name, text in sorted(generated.items()):
        committed = schema_dir / name
        event_type = name.split(".")[0]
        if not committed.exists():
            problems.append(
                f"{name} is not committed: run `python -m libs.events.schemas` and commit "
                f"libs/events/schemas/{name}")
        elif committed.read_text() != text:
            version = int(FILE_NAME.match(name)["version"])  # type: ignore[index]
            problems.append(
                f"the {event_type} model no longer produces the published schema {name}. "
                f"Consumers rely on it: do not regenerate the file. Give {event_type} a new "
                f"version (version: Literal[{version + 1}] = {version + 1}), register "
                f"@upcaster({event_type!r}, from_version={version}) that lifts a v{version} "
                f"body, and run `python -m libs.events.schemas` to publish "
                f"{schema_file_name(event_type, version + 1)} next to {name}")
    return problems


def test_the_committed_schema_of_every_event_version_is_what_its_model_generates() -> None:
    problems = schema_drift(SCHEMA_DIR, generate())

    assert not problems, "\n".join(problems)


def test_every_registered_event_type_has_a_committed_schema_of_its_current_version() -> None:
    missing = [
        schema_file_name(event_type, event_class.current_version)
        for event_type, event_class in sorted(EVENT_TYPES.items())
        if not (SCHEMA_DIR / schema_file_name(event_type, event_class.current_version)).exists()
    ]

    assert not missing, f"commit the schemas of {missing} (python -m libs.events.schemas)"


def test_every_committed_schema_belongs_to_a_known_event_and_older_versions_can_be_upcast() -> None:
    problems = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        match = FILE_NAME.match(path.name)
        if match is None:
            problems.append(f"{path.name}: not named <EventType>.v<N>.json")
            continue
        event_type, version = match["event_type"], int(match["version"])
        event_class = EVENT_TYPES.get(event_type)
        if event_class is None:
            problems.append(f"{path.name}: no event type {event_type!r} is registered; a "
                            "published event is never removed, only given a new version")
        elif version > event_class.current_version:
            problems.append(f"{path.name}: the {event_type} model is only at "
                            f"v{event_class.current_version}")
        elif version < event_class.current_version and (event_type, version) not in UPCASTERS:
            problems.append(f"{path.name}: stored v{version} bodies cannot be read; register "
                            f"@upcaster({event_type!r}, from_version={version})")
        schema = json.loads(path.read_text())
        if schema.get("$id") != f"urn:receivables:event:{event_type}:v{version}":
            problems.append(f"{path.name}: $id {schema.get('$id')!r} does not match its name")

    assert not problems, "\n".join(problems)


def test_a_published_amount_is_a_string_in_the_schema_never_a_number() -> None:
    schema = json.loads((SCHEMA_DIR / "InvoiceIssued.v1.json").read_text())

    assert schema["$defs"]["Money"]["properties"]["amount"]["type"] == "string"
    assert schema["x-topic"] == "ar.invoicing"


# --- the guard itself: a changed model is caught, with the remedy ------------------------


def test_a_model_change_that_breaks_a_published_schema_is_caught_and_says_what_to_do() -> None:
    generated = generate()
    schema = json.loads(generated["OrderShipped.v1.json"])
    schema["required"].append("warehouse_id")  # as if a mandatory field had been added
    generated["OrderShipped.v1.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"

    problems = schema_drift(SCHEMA_DIR, generated)

    assert len(problems) == 1
    assert "the OrderShipped model no longer produces the published schema OrderShipped.v1.json" in problems[0]
    assert "version: Literal[2] = 2" in problems[0]
    assert "@upcaster('OrderShipped', from_version=1)" in problems[0]
    assert "OrderShipped.v2.json" in problems[0]


def test_a_new_event_without_a_committed_schema_is_caught(tmp_path: Path) -> None:
    problems = schema_drift(tmp_path, {"DisputeOpened.v1.json": "{}\n"})

    assert problems == ["DisputeOpened.v1.json is not committed: run `python -m "
                        "libs.events.schemas` and commit libs/events/schemas/DisputeOpened.v1.json"]

