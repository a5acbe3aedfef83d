"""Reading infra/*.tf with python-hcl2 (v8 wraps every attribute value in a list)."""
import json
import os
import re

import hcl2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRA = os.path.join(ROOT, "infra")
FUNCTIONS = ["presign-upload", "presign-download", "producer", "consumer", "redriver"]


def load(name):
    with open(os.path.join(INFRA, name), encoding="utf-8") as f:
        return hcl2.load(f)


def text(name):
    with open(os.path.join(INFRA, name), encoding="utf-8") as f:
        return f.read()


def value(block, key):
    """An attribute's value (unwrapped), or None."""
    found = block.get(key)
    if isinstance(found, list) and len(found) == 1:
        return found[0]
    return found


def blocks(block, key):
    """A nested block's instances (always a list)."""
    found = block.get(key, [])
    return found if isinstance(found, list) else [found]


def labelled(name, top, kind):
    """{label: body} of one block type (`resource` or `data`) and kind in one file."""
    out = {}
    for entry in load(name).get(top, []):
        for label, body in entry.get(kind, {}).items():
            out[label] = body
    return out


def resources(name, kind):
    return labelled(name, "resource", kind)


def data_sources(name, kind):
    return labelled(name, "data", kind)


def variables():
    out = {}
    for entry in load("variables.tf").get("variable", []):
        for name, body in entry.items():
            out[name] = value(body, "default")
    return out


def locals_():
    out = {}
    for entry in load("locals.tf").get("locals", []):
        for name, body in entry.items():
            out[name] = value({name: body}, name)
    return out


def defaults():
    with open(os.path.join(INFRA, "defaults.json"), encoding="utf-8") as f:
        return json.load(f)


def statements(document):
    """Every statement of a policy document: literal ones and `dynamic` ones' content,
    as (sid, actions, resources, effect, dynamic for_each or None)."""
    out = []
    for statement in blocks(document, "statement"):
        out.append((value(statement, "sid"), value(statement, "actions") or [],
                    value(statement, "resources") or [], value(statement, "effect") or "Allow", None))
    for dynamic in blocks(document, "dynamic"):
        body = dynamic.get("statement")
        if not body:
            continue
        for content in blocks(body, "content"):
            out.append((value(content, "sid"), value(content, "actions") or [],
                        value(content, "resources") or [], value(content, "effect") or "Allow",
                        value(body, "for_each")))
    return out


def policy_document_of(function):
    return data_sources("iam.tf", "aws_iam_policy_document")[function.replace("-", "_")]


def code_environment_names(function):
    """The CLAIMCHECK_* settings a function's code reads (its own crate, plus the producer's
    for the redriver, which queues uploads as the producer does)."""
    crates = [function] + (["producer"] if function == "redriver" else [])
    names = set()
    for crate in crates:
        source_dir = os.path.join(ROOT, "functions", crate, "src")
        for file in os.listdir(source_dir):
            with open(os.path.join(source_dir, file), encoding="utf-8") as f:
                source = f.read()
            names |= set(re.findall(r'"(CLAIMCHECK_[A-Z0-9_]+)"', source))
            if "settings::uploads_prefix(" in source:
                names.add("CLAIMCHECK_UPLOADS_PREFIX")
    return names


def code_required_names(function):
    crates = [function] + (["producer"] if function == "redriver" else [])
    names = set()
    for crate in crates:
        source_dir = os.path.join(ROOT, "functions", crate, "src")
        for file in os.listdir(source_dir):
            with open(os.path.join(source_dir, file), encoding="utf-8") as f:
                names |= set(re.findall(r'settings::required\(source, "(CLAIMCHECK_[A-Z0-9_]+)"\)', f.read()))
    return names
