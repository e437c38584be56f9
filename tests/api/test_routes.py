"""Every API route resolves to itself: the order of the includes under /api/v1/ (the gift core first,
for the grab storm) decides no request's view."""

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import get_converters

SAMPLE = {"int": 7, "key": "Ab3-x_9.k", "str": "sample", "slug": "sample", "path": "a/b"}


def _named_routes(patterns):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _named_routes(entry.url_patterns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield entry


def test_each_api_route_resolves_to_its_own_name():
    sample_for = {type(converter): SAMPLE[name] for name, converter in get_converters().items() if name in SAMPLE}
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    routes = list(_named_routes(api.url_patterns))
    for route in routes:
        kwargs = {name: sample_for[type(conv)] for name, conv in route.pattern.converters.items()}
        path = reverse(route.name, kwargs=kwargs)
        assert resolve(path).url_name == route.name, path
    assert len(routes) > 40
