"""Funnel reports: flows, reach, cohort conversion, velocity, SLAs and goals, measured in SQL
over one run's stored stage history, actions and SLA outcomes (never by replaying events)."""
