"""Tables of named things (models, frame encoders, answer writers) that the files defining them fill.

A file registers what it defines with ``REGISTRY.add(name, entry)`` (as timm's ``register_model``);
the registry knows the package those files live in and imports every module of it before its
first lookup, so a new file there is found without editing any list.
"""

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Generic, TypeVar

from core.errors import AssistantError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str, error: type[AssistantError] = AssistantError) -> None:
        self.kind = kind
        self.package = package
        self.error = error
        self._entries: dict[str, T] = {}
        self._discovered = False

    def add(self, name: str, entry: T) -> None:
        known = self._entries.get(name)
        if known is not None and known is not entry:
            raise self.error(f"Two {self.kind}s are registered as {name!r}; rename one.")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        self._discover()
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(f"Unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}.") from None

    def names(self) -> tuple[str, ...]:
        self._discover()
        return tuple(sorted(self._entries))

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._entries[name]) for name in self.names()]

    def __iter__(self) -> Iterator[T]:
        return iter([entry for _, entry in self.items()])

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True  # first: a module of the package may look things up while it loads
        try:
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{module.name}")
        except BaseException:
            self._discovered = False
            raise
