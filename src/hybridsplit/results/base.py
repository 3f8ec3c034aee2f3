"""The base of every result document: a pydantic model with a kind, a schema version, and
atomic save / checked load.

Results are read by other stages (the report, the CLI printers, a user's notebook) and by later
versions of the toolkit, so every document names its kind and schema version, unknown extra
keys are kept (a newer writer may add fields), and a document that cannot be read is one
`ResultError` line that names the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybridsplit.errors import HybridsplitError


class ResultError(HybridsplitError):
    """A result document that is missing, not JSON, of another kind, or from a newer schema."""


def _plain(value: object) -> object:
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else str(value)


def _finite(value: object) -> object:
    """NaN and ±inf are not JSON: written as null, so every reader can parse the file."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class Row(BaseModel):
    """A record inside a result; extra keys are kept, so rows can grow without a schema bump."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Result(Row):
    """A whole result document. Subclasses set KIND, SCHEMA and FILE."""

    KIND: ClassVar[str] = "result"
    SCHEMA: ClassVar[int] = 1
    FILE: ClassVar[str] = "result.json"

    kind: str = ""
    schema_version: int = Field(default=0, alias="schema")

    def model_post_init(self, context: object) -> None:
        self.kind = self.kind or self.KIND
        self.schema_version = self.schema_version or self.SCHEMA

    def to_dict(self) -> dict:
        """Plain JSON types: numpy scalars become numbers, NaN becomes null, anything else its str."""
        return _finite(self.model_dump(mode="json", by_alias=True, fallback=_plain))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename): a reader never sees half a document."""
        path = Path(path)
        if path.is_dir():
            path = path / self.FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, doc: object, source: str = "document") -> Self:
        if not isinstance(doc, dict):
            raise ResultError(f"{source}: expected a JSON object, got {type(doc).__name__}")
        kind = doc.get("kind")
        if kind not in (None, "", cls.KIND):
            raise ResultError(f"{source} is a '{kind}' result, not '{cls.KIND}'")
        version = doc.get("schema", doc.get("schema_version"))
        if isinstance(version, int) and version > cls.SCHEMA:
            raise ResultError(f"{source} has schema {version}; this hybridsplit reads {cls.KIND} schema "
                              f"<= {cls.SCHEMA}: upgrade hybridsplit or re-run the stage")
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise ResultError(f"{source}: field '{where}': {err['msg']}{more}; re-run the stage that wrote it") from None

    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        if path.is_dir():
            path = path / cls.FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise ResultError(f"no {path.name} at {path.parent}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ResultError(f"cannot read {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ResultError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        return cls.from_dict(doc, str(path))
