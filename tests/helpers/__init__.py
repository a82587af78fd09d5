"""Shared test helpers: envelope assertions (`api`) and synthetic data builders (`bars`).

Import the envelope helpers as ``from tests.helpers.api import ok, error, fields``.
"""
