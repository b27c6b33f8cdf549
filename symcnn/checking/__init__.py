"""Checking hand-written backward code: contracts, random trials, diagnoses, per-entry reports."""
