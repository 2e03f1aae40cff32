"""The banks' published sample statements the tests read, and the fuzzing every parser
shares: real files, mutated a few bytes at a time, must be parsed or rejected with a
location and a message, never crash."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from services.payments.statements import Statement, StatementRejected


def _statements_dir() -> Path:
    # <repo>/services/payments/tests/this_file -> <repo>/../shared/data
    base = os.environ.get("AR_SHARED_DATA") or Path(__file__).resolve().parents[3].parent / "shared" / "data"
    path = Path(base) / "statements"
    assert path.is_dir(), f"sample statements not found at {path}; set AR_SHARED_DATA to the shared/data folder"
    return path


SAMPLES = _statements_dir()


def sample(name: str) -> bytes:
    """A sample file by its path below shared/data/statements, e.g. "mt940/jejik_ing.sta"."""
    return (SAMPLES / name).read_bytes()


# Mutations are cheap; a parser slow on a mangled file is still a finding, not a flake.
fuzzing = settings(max_examples=200, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn, samples: dict[str, bytes], tokens: list[bytes]) -> tuple[str, bytes]:
    """One of the samples, by name, with up to four bytes flipped, cut, inserted, deleted,
    or replaced by tokens that mean something in the format."""
    name = draw(st.sampled_from(sorted(samples)))
    data = bytearray(samples[name])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "token"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 40))]
        else:
            data[i:i] = draw(st.sampled_from(tokens))
    return name, bytes(data)


def assert_parsed_or_rejected(parse: Callable[[], list[Statement]]) -> None:
    try:
        statements = parse()
    except StatementRejected as exc:
        assert exc.location and exc.message
    else:
        assert all(isinstance(s, Statement) for s in statements)
