"""The metrics explorer: a local web page over the database, served by ``sapdi-local ui``.

A thin HTTP layer (``server.py``) over a JSON API (``api.py``) that reads through the store
with a read-only connection; the page in ``static/`` is a client of that API and draws its
charts with Plotly's JavaScript from the installed ``plotly`` package.
"""
