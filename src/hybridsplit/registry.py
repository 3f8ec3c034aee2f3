"""A small generic registry (timm's `_registry.py` shape): name -> factory.

Registries are the only module-level state in hybridsplit: filled at import, read-only after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from hybridsplit.errors import SpecError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, list_command: str) -> None:
        self.kind = kind
        self.list_command = list_command
        self._entries: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            key = name or obj.__name__  # type: ignore[attr-defined]
            if key in self._entries:
                raise RuntimeError(f"{self.kind} '{key}' registered twice")
            self._entries[key] = obj
            return obj

        return wrap

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise SpecError(
                f"Unknown {self.kind} '{name}'.{did_you_mean(name, self._entries)} "
                f"Known: {', '.join(self.names())}. See `{self.list_command}`."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
