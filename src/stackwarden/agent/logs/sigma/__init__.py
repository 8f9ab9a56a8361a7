"""Sigma rules: loaded with pySigma, compiled to Python closures, run over decoded events."""
