"""A catalog that cannot be opened: only a damaged file is worth rebuilding; other failures delete nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.catalog import Catalog
from rag.errors import RagError


def test_a_file_that_is_not_a_database_may_be_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes(b"not a database at all " * 200)
    with pytest.raises(RagError) as caught:
        Catalog(path)
    assert "is damaged (file is not a database)" in str(caught.value) and "run `ragbot ingest`" in str(caught.value)
    assert path.read_bytes().startswith(b"not a database")  # left as it was


def test_an_unopenable_catalog_is_never_advised_deleted(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.mkdir()  # sqlite cannot open it: the same class of failure as a disk or permission problem
    with pytest.raises(RagError) as caught:
        Catalog(path)
    message = str(caught.value)
    assert message.startswith(f"cannot open the index catalog {path}") and "check the disk" in message
    assert "delete" not in message and "rebuild" not in message and "move it" not in message
