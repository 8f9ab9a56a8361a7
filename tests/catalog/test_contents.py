"""Windowed searches give exactly what one `re.search` over the whole file gives."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stackwarden.catalog.contents import OVERLAP, first_anchored, first_matches
from stackwarden.catalog.golang.binary import CONTENTS_VERSION
from tests.helpers.gobuild import go_binaries

NODE = re.compile(rb"node\.js/v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)")
PIECES = [b"\x00", b"\xff", b".", b"v", b"L", b"1", b"22", b"333", b"-rc1", b"+b", b"\n", b"x",
          b"node.js/v", b"\x001.2.3\x00", b"\xffxLv10.0.1-beta\x00"]


def whole(pattern: re.Pattern[bytes], data: bytes) -> tuple[int, str] | None:
    match = pattern.search(data)
    return (match.start(), match.group("version").decode("latin-1")) if match else None


def found(result: object) -> tuple[int, str] | None:
    return None if result is None else (result.offset, result.groups["version"])  # type: ignore


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(PIECES), max_size=400),
       padding=st.integers(min_value=0, max_value=3 * OVERLAP),
       chunk=st.integers(min_value=OVERLAP + 1, max_value=3 * OVERLAP))
def test_windowed_searches_equal_one_whole_search(parts: list[bytes], padding: int,
                                                  chunk: int) -> None:
    data = b"\x01" * padding + b"".join(parts)
    handle = io.BytesIO(data)
    assert found(first_matches(handle, len(data), [[NODE]], chunk=chunk)[0]) == whole(NODE, data)
    assert found(first_anchored(handle, len(data), CONTENTS_VERSION, b"0.0", chunk=chunk)) == \
        whole(CONTENTS_VERSION, data)


def test_anchored_search_on_real_go_binaries() -> None:
    for path in sorted((go_binaries() / "bin").iterdir()):
        data = path.read_bytes()
        with open(path, "rb") as handle:
            assert found(first_anchored(handle, len(data), CONTENTS_VERSION, b"0.0")) == \
                whole(CONTENTS_VERSION, data), path
