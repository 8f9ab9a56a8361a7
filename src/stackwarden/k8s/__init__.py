"""Kubernetes: the validating admission webhook (`admission.py`, served by `webhook.py`).

The webhook applies the misconfiguration checks and an image gate to what is about to run in a
cluster; image verdicts come from scan results already made (a report directory or the server),
never from pulling an image on the request path. See docs/admission.md.
"""
