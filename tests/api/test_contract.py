"""Every HTTP API response the test suite saw, validated against api/openapi.yaml.

The handler tests record each response they check (status, route, JSON body; presigned URLs
replaced by a placeholder) in the file CLAIMCHECK_API_RESPONSES names (testkit::api_parts).
Each must be a status the document lists for its route, with a body its schema accepts (OpenAPI
3.1 schemas are JSON Schema 2020-12). Usage: python test_contract.py RESPONSES.jsonl
"""
import json
import os
import sys
import unittest

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, "api", "openapi.yaml")
BASE = "urn:claimcheck:openapi"
RESPONSES = None


def load_document():
    with open(DOCUMENT, encoding="utf-8") as f:
        return yaml.safe_load(f)


def operation(document, route):
    """The operation object of `METHOD /path` (route keys as API Gateway writes them)."""
    method, path = route.split(" ", 1)
    return document["paths"][path][method.lower()]


def response_object(document, operation_object, status):
    """The response object for `status` (following a `$ref` into components), or None."""
    response = operation_object["responses"].get(str(status))
    if response and "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = document["components"]["responses"][name]
    return response


def validator(document, schema):
    registry = Registry().with_resource(
        BASE, Resource.from_contents(document, default_specification=DRAFT202012))

    def rebase(node):
        if isinstance(node, dict):
            return {k: (BASE + v if k == "$ref" and v.startswith("#") else rebase(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [rebase(v) for v in node]
        return node

    return Draft202012Validator(rebase(schema), registry=registry)


class RecordedResponsesMatchTheDocument(unittest.TestCase):
    def setUp(self):
        self.document = load_document()
        with open(RESPONSES, encoding="utf-8") as f:
            self.records = [json.loads(line) for line in f if line.strip()]

    def test_the_suite_recorded_both_routes_and_their_errors(self):
        routes = {(r["route"], r["status"] // 100) for r in self.records}
        for expected in [("POST /uploads", 2), ("POST /uploads", 4),
                         ("GET /payloads/{id}", 2), ("GET /payloads/{id}", 4)]:
            self.assertIn(expected, routes, f"no {expected[0]} {expected[1]}xx response was recorded")

    def test_every_response_matches_its_route_and_status(self):
        problems = problems_of(self.document, self.records)
        self.assertEqual(problems, [], "\n".join(problems))
        print(f"api contract: {len(self.records)} recorded responses match api/openapi.yaml",
              file=sys.stderr)

    def test_the_check_itself_catches_what_breaks_the_document(self):
        ticket = {"id": "9ba13839-5f92-41cc-9522-5f96663f4c0b", "method": "PUT",
                  "url": "https://presigned.invalid/redacted", "headers": {},
                  "expires_at": 1, "expires_in": 900}
        broken = [
            {"route": "POST /uploads", "status": 201, "body": {**ticket, "expires_at": "soon"}},
            {"route": "POST /uploads", "status": 201, "body": {k: v for k, v in ticket.items() if k != "id"}},
            {"route": "POST /uploads", "status": 418, "body": {}},
            {"route": "GET /payloads/{id}", "status": 400, "body": {"error": {"code": "Bad Code", "message": "m"}}},
            {"route": "GET /payloads/{id}", "status": 200, "body": {"id": ticket["id"], "status": "lost"}},
        ]
        self.assertEqual(len(problems_of(self.document, broken[:1])), 1)
        for record in broken:
            self.assertTrue(problems_of(self.document, [record]), record)
        self.assertEqual(problems_of(self.document, [{"route": "POST /uploads", "status": 201, "body": ticket}]), [])


def problems_of(document, records):
    """One line per way a recorded response breaks the document."""
    problems = []
    for record in records:
        where = f"{record['route']} → {record['status']} ({record.get('test', '?')})"
        response = response_object(document, operation(document, record["route"]), record["status"])
        if response is None:
            problems.append(f"{where}: status not in the document")
            continue
        schema = response["content"]["application/json"]["schema"]
        errors = sorted(validator(document, schema).iter_errors(record["body"]),
                        key=lambda e: list(e.path))
        problems.extend(f"{where}: {e.message} at {list(e.path)}" for e in errors[:3])
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_contract.py RESPONSES.jsonl")
    RESPONSES = sys.argv.pop()
    unittest.main()
