"""Plumbing shared by every service: settings, database, auth, events, errors, health, logging.

Only plumbing lives here. Models, rules and tables belong to the service that owns them.
"""
