"""Persistence: database tables, sessions, uploaded files."""
