"""Use cases: each opens a unit of work, loads, calls domain code, saves, audits."""
