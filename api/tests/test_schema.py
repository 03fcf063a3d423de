"""The OpenAPI document is valid, and a property-based run of every operation in it (schemathesis,
through Django's WSGI app, as a control token) never makes the server fail."""

import copy

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from api.views import api

from .conftest import bearer

DOCUMENT = api.get_openapi_schema(path_prefix="/api/v1")
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
schema.app = get_wsgi_application()


def test_the_document_is_valid_openapi():
    assert DOCUMENT["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT)).validate()  # the OpenAPI meta-schema


def test_a_broken_document_is_caught():
    broken = copy.deepcopy(DOCUMENT)
    broken["paths"]["/api/v1/status"]["get"]["responses"] = "none"
    with pytest.raises(Exception, match="responses"):
        schemathesis.openapi.from_dict(broken).validate()


def test_the_document_is_served_for_a_token_and_the_docs_page_after_the_login(client, db, ops, read_token):
    assert client.get("/api/v1/openapi.json").status_code == 401
    assert client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION="Bearer cp_wrong").status_code == 401
    served = client.get("/api/v1/openapi.json", **bearer(read_token))
    assert served.status_code == 200 and set(served.json()["paths"]) == set(DOCUMENT["paths"])
    assert client.get("/api/v1/docs").status_code == 302  # the site's login first
    client.force_login(ops)
    page = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "://" not in page  # offline, CSP-clean


@pytest.fixture
def token(control_token, held_btc):
    """A control token, and the test's database connection kept across the WSGI calls: Django's
    own test client unhooks close_old_connections the same way (it would close the connection of
    the test's transaction on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield control_token
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_operation_fails_on_any_input(case, token):
    case.call_and_validate(
        headers={"Authorization": bearer(token)["HTTP_AUTHORIZATION"]},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
