"""Triggers of the Firefly provider (run in Airflow's triggerer)."""
