"""Batch side of senacs-kg: read SENACS exports, map them to RDF, validate, release.

Import map: ``mapping.reader`` (stream records from exports), ``mapping.record``
(the Record model), ``mapping.labels`` (the form's fields), ``mapping.paths``
(where data folders are), ``mapping.cli`` (the ``senacs-kg`` command).
"""
