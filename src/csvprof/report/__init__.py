"""The profile as a page to look at: `html.render(profile)` is one self-contained HTML file.

Pure string building on `contracts.profile`: no I/O, no third-party import, so the worker
handler can pass `render` into the domain and the CLI can use it on a local profile.json.
"""

from csvprof.report.html import render

__all__ = ["render"]
