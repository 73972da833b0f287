"""Governance models (ownership roles, SLOs, scorecards, waivers) arrive with their issues."""
