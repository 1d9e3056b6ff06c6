"""The senacs-kg web application: SPARQL endpoint and linked-data publisher (read-only).

``create_app(config)`` is the factory (``gunicorn 'endpoint:create_app()'``). It
imports nothing of ``mapping`` but its IRI rules and release layout, and loads the
release into the store named by the configuration.
"""

from endpoint.app import create_app

__all__ = ["create_app"]
