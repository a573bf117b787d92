"""Airflow hooks of the Firefly provider."""
