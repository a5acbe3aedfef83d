"""Reading infra/*.tf with python-hcl2 8 (quotes stripped, blocks as lists of dicts), and
resolving the simple expressions the tests compare (`var.x`, `local.y`, arithmetic on them)."""
import collections
import glob
import json
import os
import re

import hcl2

if not str(getattr(hcl2, "__version__", "")).startswith("8."):
    raise ImportError(
        f"tests/infra needs python-hcl2 8 (tests/infra/requirements-hcl2.txt), found hcl2 "
        f"{getattr(hcl2, '__version__', '?')} at {hcl2.__file__}: checkov's bc-python-hcl2 "
        "installs a module of the same name; run tests/infra/check.sh, which keeps them apart")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRA = os.path.join(ROOT, "infra")
FUNCTIONS = ["presign-upload", "presign-download", "producer", "consumer", "redriver"]
OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)

_cache = {}


def tf_files():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(INFRA, "*.tf")))


def load(name):
    if name not in _cache:
        with open(os.path.join(INFRA, name), encoding="utf-8") as f:
            _cache[name] = hcl2.load(f, serialization_options=OPTIONS)
    return _cache[name]


def text(name):
    with open(os.path.join(INFRA, name), encoding="utf-8") as f:
        return f.read()


def blocks(body, key):
    """A nested block's instances (always a list)."""
    found = body.get(key, [])
    return found if isinstance(found, list) else [found]


def comments(body):
    return [c.get("value", "") for c in body.get("__comments__", [])]


def _labelled(top, kind, files=None):
    """{label: body} of one block type (`resource` or `data`) and kind across infra/*.tf."""
    out = {}
    for name in files or tf_files():
        for entry in load(name).get(top, []):
            for label, body in entry.get(kind, {}).items():
                assert label not in out, f"{top} {kind}.{label} declared twice"
                out[label] = body
    return out


def resources(kind, file=None):
    return _labelled("resource", kind, [file] if file else None)


def data_sources(kind, file=None):
    return _labelled("data", kind, [file] if file else None)


def resource_kinds():
    """{(kind, label): file} of every resource."""
    out = {}
    for name in tf_files():
        for entry in load(name).get("resource", []):
            for kind, labelled in entry.items():
                for label in labelled:
                    if not label.startswith("__"):
                        out[(kind, label)] = name
    return out


def variables():
    """{name: body} of every variable."""
    out = {}
    for entry in load("variables.tf").get("variable", []):
        out.update(entry)
    return out


def defaults_declared():
    return {name: body.get("default") for name, body in variables().items()}


def locals_():
    out = {}
    for name in tf_files():
        for entry in load(name).get("locals", []):
            for key, value in entry.items():
                if not key.startswith("__"):
                    assert key not in out, f"local.{key} declared twice"
                    out[key] = value
    return out


def outputs():
    out = {}
    for entry in load("outputs.tf").get("output", []):
        out.update(entry)
    return out


def defaults():
    with open(os.path.join(INFRA, "defaults.json"), encoding="utf-8") as f:
        return json.load(f)


_ARITHMETIC = re.compile(r"^[\d\s+\-*/()]+$")


def evaluate_or_text(expression):
    """evaluate(), or the expression itself when it refers to anything else (resources)."""
    try:
        return evaluate(expression)
    except ValueError:
        return expression


def evaluate(expression):
    """The value of a simple expression under the variables' defaults: a literal,
    `${var.x}`, `${local.y}`, `${tostring(...)}`, and + - * / on numbers. Raises ValueError
    for anything else (the tests then compare the expression's text)."""
    if not isinstance(expression, str) or not expression.startswith("${") or not expression.endswith("}"):
        return expression
    inner = expression[2:-1].strip()
    declared, local = defaults_declared(), locals_()
    tostring = re.fullmatch(r"tostring\((.+)\)", inner)
    if tostring:
        value = evaluate("${" + tostring.group(1) + "}")
        return str(value).lower() if isinstance(value, bool) else str(value)
    reference = re.fullmatch(r"(var|local)\.([A-Za-z0-9_]+)", inner)
    if reference:
        kind, name = reference.groups()
        if kind == "var":
            return declared[name]
        return evaluate(local[name])

    def substitute(match):
        kind, name = match.groups()
        value = declared[name] if kind == "var" else evaluate(local[name])
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{match.group(0)} is not a number in {expression}")
        return str(value)

    arithmetic = re.sub(r"\b(var|local)\.([A-Za-z0-9_]+)", substitute, inner)
    if _ARITHMETIC.match(arithmetic):
        return eval(arithmetic, {"__builtins__": {}})  # digits and operators only
    raise ValueError(f"cannot evaluate {expression}")


Statement = collections.namedtuple(
    "Statement", "document sid effect actions resources principals for_each comments")


def statements(document, label=""):
    """Every statement of a policy document: literal ones, and `dynamic` ones' content with
    their for_each (None for literal statements)."""
    out = []
    notes = comments(document)
    for statement in blocks(document, "statement"):
        principals = [i for p in blocks(statement, "principals") for i in p.get("identifiers", [])]
        out.append(Statement(label, statement.get("sid"), statement.get("effect", "Allow"),
                             statement.get("actions", []), statement.get("resources", []),
                             principals, None, notes))
    for dynamic in blocks(document, "dynamic"):
        body = dynamic.get("statement")
        if not body:
            continue
        for content in blocks(body, "content"):
            principals = [i for p in blocks(content, "principals") for i in p.get("identifiers", [])]
            out.append(Statement(label, content.get("sid"), content.get("effect", "Allow"),
                                 content.get("actions", []), content.get("resources", []),
                                 principals, body.get("for_each"), notes))
    return out


def policy_documents():
    return data_sources("aws_iam_policy_document")


def policy_document_of(function):
    return policy_documents()[function.replace("-", "_")]


def function_statements(function):
    return statements(policy_document_of(function), function.replace("-", "_"))


def _sources(function):
    """The function crate's own sources: each reads its settings itself (the library reads none)."""
    source_dir = os.path.join(ROOT, "functions", function, "src")
    for file in sorted(os.listdir(source_dir)):
        if file.endswith(".rs"):
            with open(os.path.join(source_dir, file), encoding="utf-8") as f:
                yield f.read()


# Library modules every function uses that read settings of their own (the metrics' stack
# name and, in tests, their log file).
_SHARED_SETTINGS = ["claimcheck/src/metrics.rs"]


def code_environment_names(function):
    """The CLAIMCHECK_* settings a function's code reads (its crate, and the shared modules)."""
    names = set()
    for path in _SHARED_SETTINGS:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            names |= set(re.findall(r'"(CLAIMCHECK_[A-Z0-9_]+)"', f.read()))
    for source in _sources(function):
        names |= set(re.findall(r'"(CLAIMCHECK_[A-Z0-9_]+)"', source))
        if "settings::uploads_prefix(" in source:
            names.add("CLAIMCHECK_UPLOADS_PREFIX")
    return names


def code_required_names(function):
    """The settings a function's code refuses to start without."""
    names = set()
    for source in _sources(function):
        names |= set(re.findall(r'settings::required\(source, "(CLAIMCHECK_[A-Z0-9_]+)"\)', source))
    return names
