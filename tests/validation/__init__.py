"""Validation of the kinematics against external reference data (see docs/validation.md)."""
