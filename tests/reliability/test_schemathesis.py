"""schemathesis against ``/openapi.json``: no 5xx and no answer outside the schema.

Every operation of the document is called with bodies generated from its schema, valid ones and
invalid ones (schemathesis's positive and negative modes), derandomized so CI is reproducible.
Each answer goes through schemathesis's checks: not a server error, a documented status code,
content type and headers, a body that fits the documented schema, and invalid data refused.
"""

from __future__ import annotations

import math

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

TARGET_CALLS = 500


def test_generated_calls_get_no_5xx_and_fit_the_schema(seeded_service, figures):
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        negative_data_rejection,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_headers_conformance, response_schema_conformance, negative_data_rejection]
    url = seeded_service.url
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 3, [op.label for op in operations]
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # 1.6: operations without parameters exhaust their one case, and have nothing to make invalid.
    per_run = math.ceil(TARGET_CALLS * 1.6 / (len(operations) * len(modes)))

    calls: dict[tuple[str, str], int] = {}
    statuses: dict[int, int] = {}
    session = requests.Session()

    def fuzz(operation, mode) -> None:
        key = (operation.label, mode.value)
        calls[key] = 0

        @settings(max_examples=per_run, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            response = case.call(base_url=url, session=session, timeout=60)
            calls[key] += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=checks)

        try:
            run()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, or free-form strings only): positive calls only.
            if mode is not GenerationMode.NEGATIVE:
                failures.append(f"{operation.label} ({mode.value}): no case could be generated")
        except (Exception, BaseExceptionGroup) as e:  # collected: every operation is fuzzed before reporting
            failures.append(f"{operation.label} ({mode.value}): {e}")

    failures: list[str] = []
    for operation in operations:
        for mode in modes:
            fuzz(operation, mode)

    assert not failures, "\n\n".join(failures)
    total = sum(calls.values())
    assert total >= TARGET_CALLS, calls
    assert not any(s >= 500 for s in statuses), statuses
    assert requests.get(url + "/healthz", timeout=30).status_code == 200
    figures("schemathesis calls (positive + negative, %d operations)" % len(operations), total)
    figures("schemathesis statuses", dict(sorted(statuses.items())))
