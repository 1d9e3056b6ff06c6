"""The senacs-kg web application: SPARQL endpoint and linked-data publisher (read-only).

``create_app(config)`` is the factory (``gunicorn 'endpoint:create_app()'``). It
imports nothing of ``mapping`` but its IRI rules and release layout, and loads the
release into the store named by the configuration.
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    """``create_app`` on first use: the store's loader and query workers, which import
    modules of this package, then start without Flask and the web application."""
    if name == "create_app":
        from endpoint.app import create_app

        return create_app
    raise AttributeError(f"module 'endpoint' has no attribute {name!r}")
