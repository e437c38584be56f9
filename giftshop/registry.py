"""Outside services (payment gateways, couriers) chosen by name from a registry of dotted paths, so
the app that uses them never imports one. A name that is unknown, or whose service is not
configured on this site, is not found, like a missing page."""

from __future__ import annotations

from django.utils.module_loading import import_string

from giftshop.errors import NotFound


def registered(registry: dict[str, str], name: str, *, what: str):
    """The class registered as `name`, when this site has it configured."""
    if name not in registry:
        raise NotFound(f"Unknown {what}.")
    service = import_string(registry[name])
    if not service.available():
        raise NotFound(f"This {what} is not enabled here.")
    return service


def available_names(registry: dict[str, str], *, first: str = "") -> list[str]:
    """The names configured on this site, `first` (a default) first."""
    names = [first, *(n for n in registry if n != first)] if first in registry else list(registry)
    return [n for n in names if import_string(registry[n]).available()]
