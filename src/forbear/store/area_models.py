"""Imports every model module of the other areas, so that ``Base.metadata`` is complete.

Each area adds one import line here (audit, access, contacts, templates, ...).
"""
