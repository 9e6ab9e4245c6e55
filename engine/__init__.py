"""tradeengine: the engine core (see README.md and ../shared/DESIGN.md)."""

from engine import native as _native

# Before any other engine module is imported: a compiled build of the hot modules is used
# when it matches the sources (engine/native.py).
_native.activate()
