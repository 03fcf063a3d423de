"""`{% load fragments %}`: a rendered part of a page kept in the shared page cache.

    {% cachedfragment "history-rows" page.object_list %} ...rows... {% endcachedfragment %}

The fragment is rendered once and served from Redis (core.caching.cached: every web process,
one computation per key, pages rendered as usual when Redis is down) for as long as the values
named after its name are unchanged: they are fingerprinted whole (`core.caching.digest`: a model
instance by every field it was loaded with), so a changed row shows at once, not after a time
limit. The key also carries the language and the template's own text (a deploy that edits the
template renders anew). Everything the fragment shows must come from those values: nothing of the
user, the request or the clock.
"""

import hashlib

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token

from core.caching import cached, digest

register = template.Library()
FRAGMENT_SECONDS = 300  # bounds memory and a code change in a filter; the values decide freshness


class CachedFragmentNode(template.Node):
    def __init__(
        self, nodelist: NodeList, name: FilterExpression, vary_on: list[FilterExpression], source: str
    ):
        self.nodelist = nodelist
        self.name = name
        self.vary_on = vary_on
        self.source = source

    def render(self, context: template.Context) -> str:
        values = [value.resolve(context) for value in self.vary_on]
        key = f"fragment:{self.name.resolve(context)}:{self.source}:{digest(*values)}"
        return cached(key, lambda: self.nodelist.render(context), seconds=FRAGMENT_SECONDS)


@register.tag("cachedfragment")
def cached_fragment(parser: Parser, token: Token) -> CachedFragmentNode:
    bits = token.split_contents()
    if len(bits) < 3:
        raise template.TemplateSyntaxError(
            "'cachedfragment' takes a name and at least one value the fragment is made of"
        )
    nodelist = parser.parse(("endcachedfragment",))
    parser.delete_first_token()
    return CachedFragmentNode(
        nodelist,
        parser.compile_filter(bits[1]),
        [parser.compile_filter(bit) for bit in bits[2:]],
        _template_fingerprint(parser),
    )


def _template_fingerprint(parser: Parser) -> str:
    """A short hash of the template's text (read once, when the template is compiled)."""
    origin = getattr(parser, "origin", None)
    try:
        text = origin.loader.get_contents(origin) if origin and origin.loader else ""
    except template.TemplateDoesNotExist:
        text = ""
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
