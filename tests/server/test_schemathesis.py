"""Schemathesis generates requests from the OpenAPI description: no input yields a 5xx."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.server.conftest import Server

# Signing out or revoking a token would revoke the admin token the run uses.
SKIP = re.compile(r"^/api/v1/(auth/logout|tokens/\{token_id\})$")
# Watching a registry makes the server contact the generated host name: nothing leaves this
# machine (tests/server/test_registry_watch_bad.py covers that route's input instead).
SKIP_OPERATIONS = {("POST", "/api/v1/registries")}
EXAMPLES = 5  # per operation and backend: bounded, so the suite stays fast


def test_no_server_errors(server: Server) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", server.client.app,
                                            headers=server.auth())
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 20
    tested = 0
    for operation in operations:
        if SKIP.match(operation.path) or (operation.method.upper(),
                                          operation.path) in SKIP_OPERATIONS:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_5xx(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=server.auth(), checks=[not_a_server_error])

        no_5xx()
        tested += 1
    assert tested == len(operations) - 2 - len(SKIP_OPERATIONS)
