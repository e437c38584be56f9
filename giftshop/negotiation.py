"""DRF's content negotiation, remembered per Accept header.

Every API request picks its renderer from its Accept header; DRF parses the header and matches each
media type against each renderer on every request (a grab storm's requests all send the same
header). The choice depends only on the header and the view's renderer classes, so it is kept per
process for the few headers clients send: at most `_MAX_ENTRIES` of them, each at most
`_MAX_HEADER` characters long (longer or rarer ones are negotiated as before, every time), and a
`?format=` override is never remembered. What is chosen, and every 406, is DRF's own answer.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

_MAX_ENTRIES = 64
_MAX_HEADER = 256
_chosen: dict[tuple, tuple[int, str]] = {}


class RememberingContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE):
            return super().select_renderer(request, renderers, format_suffix)
        header = request.META.get("HTTP_ACCEPT", "*/*")
        key = (header, *(type(renderer) for renderer in renderers))
        chosen = _chosen.get(key)
        if chosen is not None:
            return renderers[chosen[0]], chosen[1]
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        if len(header) <= _MAX_HEADER:
            if len(_chosen) >= _MAX_ENTRIES:
                _chosen.clear()
            _chosen[key] = (next(i for i, r in enumerate(renderers) if r is renderer), media_type)
        return renderer, media_type
