"""Checks infra/*.tf against the hashicorp/aws provider's schema (provider_schema.py), offline.

What `terraform validate` would catch with the provider downloaded, for every `resource` and
`data` block: the type exists; every argument and nested block exists (recursing through nested
blocks and `dynamic` blocks' `content`); every required argument and block is present; a block
of at most one instance appears once; literal values have a type Terraform can convert to the
schema's (a quoted number is a number, "true" a bool; a list is never a string); and every
`aws_x.name.attr` / `data.aws_x.name.attr` reference anywhere in the files names a declared
block and an attribute that type has. Terraform's own constructs (meta-arguments, `lifecycle`,
`dynamic`, `provisioner`, `connection`) are known here, not in the schema.

Usage: python schema_check.py [DIR]   (default infra/) — prints each finding and the counts,
exits 1 on any finding.
"""
import dataclasses
import glob
import os
import re
import sys

import hcl2

import provider_schema

OPTIONS = hcl2.SerializationOptions(strip_string_quotes=False, explicit_blocks=True)

# Terraform's meta-arguments (https://developer.hashicorp.com/terraform/language/meta-arguments).
META_ARGUMENTS = {"resource": {"count", "for_each", "depends_on", "provider"},
                  "data": {"count", "for_each", "depends_on", "provider"}}
META_BLOCKS = {"resource": {"lifecycle", "provisioner", "connection", "dynamic"},
               "data": {"lifecycle", "dynamic"}}
LIFECYCLE = {"resource": {"create_before_destroy", "prevent_destroy", "ignore_changes",
                          "replace_triggered_by"},
             "data": set()}
CONDITION = {"condition", "error_message"}
DYNAMIC = {"for_each", "iterator", "labels"}

# `aws_x.name` or `data.aws_x.name`, an optional index or splat, then `.attribute`.
_REFERENCE = re.compile(
    r"(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)"
    r"(?:\[[^\]]*\])?(?:\.([a-z_][a-z0-9_]*))?")
_INTERPOLATION = re.compile(r"(?<!\$)\$\{")


@dataclasses.dataclass
class Stats:
    blocks: int = 0          # resource and data blocks
    arguments: int = 0       # arguments checked, nested ones included
    nested_blocks: int = 0   # nested block instances checked (dynamic content included)
    references: int = 0      # aws_x.name.attr references checked


def _unquote(label):
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def _is_expression(value):
    """True for anything whose type is known only when Terraform evaluates it."""
    if isinstance(value, str):
        if value.startswith("${"):
            return True
        if value.startswith('"') and _INTERPOLATION.search(value):
            return value.startswith('"${') and value.endswith('}"') and value.count("${") == 1
    return False


def _literal_kind(value):
    """bool, number, string, list, map, null, or None for an expression."""
    if _is_expression(value):
        return None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return None


def _string_literal(value):
    text = value[1:-1] if value.startswith('"') else value
    return text.strip()


def type_error(expected, value):
    """Why `value` (a parsed literal) cannot be `expected` (a schema TYPE), or None.

    Follows Terraform's conversions: numbers and bools become strings, a string converts to a
    number or bool only when it spells one."""
    kind = _literal_kind(value)
    if kind in (None, "null") or expected == "any":
        return None
    if expected == "string":
        return None if kind in ("string", "number", "bool") else f"a {kind} where a string is expected"
    if expected == "number":
        if kind == "number":
            return None
        if kind == "string" and not _INTERPOLATION.search(value):
            try:
                float(_string_literal(value))
                return None
            except ValueError:
                pass
        return f"{_shown(value)} where a number is expected"
    if expected == "bool":
        if kind == "bool" or (kind == "string" and _string_literal(value) in ("true", "false")):
            return None
        return f"{_shown(value)} where a bool is expected"
    if isinstance(expected, dict) and "list" in expected:
        if kind != "list":
            return f"{_shown(value)} where a list is expected"
        for item in value:
            problem = type_error(expected["list"], item)
            if problem:
                return f"list element: {problem}"
        return None
    if isinstance(expected, dict) and "map" in expected:
        if kind != "map":
            return f"{_shown(value)} where a map is expected"
        for key, item in value.items():
            if key.startswith("__"):
                continue
            problem = type_error(expected["map"], item)
            if problem:
                return f"map value {key}: {problem}"
        return None
    if isinstance(expected, dict) and "object" in expected:
        return None if kind == "map" else f"{_shown(value)} where an object is expected"
    return None


def _shown(value):
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


class Checker:
    def __init__(self, schema):
        self.schema = schema
        self.findings = []
        self.stats = Stats()

    def _find(self, where, message):
        self.findings.append(f"{where}: {message}")

    # -- blocks -------------------------------------------------------------------------------
    def check_file(self, path, text, declared):
        parsed = hcl2.loads(text, serialization_options=OPTIONS)
        name = _shown_path(path)
        for top in ("resource", "data"):
            for entry in parsed.get(top, []):
                for raw_type, labelled in entry.items():
                    if raw_type.startswith("__"):
                        continue
                    terraform_type = _unquote(raw_type)
                    for raw_label, body in labelled.items():
                        if raw_label.startswith("__"):
                            continue
                        label = _unquote(raw_label)
                        prefix = "data." if top == "data" else ""
                        where = f"{name}:{_line(text, top, terraform_type, label)}: {top} {prefix}{terraform_type}.{label}"
                        self.stats.blocks += 1
                        block_schema = self.schema[top].get(terraform_type)
                        if block_schema is None:
                            self._find(where, f"{top} type {terraform_type} does not exist in "
                                              f"hashicorp/aws {self.schema['version']}")
                            continue
                        self._check_top(where, top, body, block_schema)
        self._check_references(name, text, declared)

    def _check_top(self, where, top, body, block_schema):
        meta = {key: value for key, value in body.items() if key in META_ARGUMENTS[top] | META_BLOCKS[top]}
        rest = {key: value for key, value in body.items() if key not in meta}
        self._check_body(where, rest, block_schema, dynamics=meta.get("dynamic", []))
        for lifecycle in meta.get("lifecycle", []):
            self._check_lifecycle(f"{where} lifecycle", top, lifecycle)

    def _check_lifecycle(self, where, top, lifecycle):
        for key, value in _members(lifecycle):
            if key in ("precondition", "postcondition"):
                for condition in value:
                    self.stats.nested_blocks += 1
                    for inner, _ in _members(condition):
                        if inner not in CONDITION:
                            self._find(where, f"{key} has no argument {inner}")
                    for needed in CONDITION - set(k for k, _ in _members(condition)):
                        self._find(where, f"{key} is missing {needed}")
            elif key not in LIFECYCLE[top]:
                self._find(where, f"lifecycle has no argument {key}")

    def _check_body(self, where, body, block_schema, dynamics=()):
        present = set()
        for key, value in _members(body):
            if key == "dynamic":
                continue
            present.add(key)
            argument = block_schema["arguments"].get(key)
            nested = block_schema["blocks"].get(key)
            if nested is not None:
                if not _is_block_list(value):
                    self._find(where, f"{key} is a block: write `{key} {{ ... }}`, not `{key} = ...`")
                    continue
                if nested["max_one"] and len(value) > 1:
                    self._find(where, f"block {key} may appear at most once, found {len(value)}")
                for instance in value:
                    self._check_nested(f"{where} {key}", instance, nested)
            elif argument is not None:
                self.stats.arguments += 1
                if _is_block_list(value) and not _is_object_type(argument["type"]):
                    self._find(where, f"{key} is an argument: write `{key} = ...`, not a block")
                    continue
                self._check_value(f"{where}", key, value, argument["type"])
            else:
                self._find(where, f"{_kind_of(value)} {key} is not in the schema "
                                  f"(hashicorp/aws {self.schema['version']}){_suggest(key, block_schema)}")
        for dynamic in dynamics:
            for raw_name, spec in dynamic.items():
                if raw_name.startswith("__"):
                    continue
                name = _unquote(raw_name)
                present.add(name)
                nested = block_schema["blocks"].get(name)
                if nested is None:
                    self._find(where, f"dynamic block {name} is not a block of this type"
                                      f"{_suggest(name, block_schema)}")
                    continue
                for key, _ in _members(spec):
                    if key not in DYNAMIC and key != "content":
                        self._find(f"{where} dynamic {name}", f"dynamic has no argument {key}")
                if "for_each" not in spec:
                    self._find(f"{where} dynamic {name}", "dynamic block is missing for_each")
                contents = spec.get("content", [])
                if len(contents) != 1:
                    self._find(f"{where} dynamic {name}", "dynamic block needs exactly one content block")
                for content in contents:
                    self._check_nested(f"{where} dynamic {name} content", content, nested)
        for name, argument in block_schema["arguments"].items():
            if argument["required"] and name not in present:
                self._find(where, f"required argument {name} is missing")
        for name, nested in block_schema["blocks"].items():
            if nested["required"] and name not in present:
                self._find(where, f"required block {name} is missing")

    def _check_nested(self, where, instance, nested):
        self.stats.nested_blocks += 1
        dynamics = instance.get("dynamic", []) if isinstance(instance, dict) else []
        self._check_body(where, instance, self.schema["structs"][nested["struct"]], dynamics)

    def _check_value(self, where, key, value, expected):
        problem = type_error(expected, value)
        if problem:
            self._find(where, f"argument {key}: {problem}")
            return
        # An object-typed argument (a nested attribute) written as a map or as blocks.
        objects = _object_fqn(expected)
        if objects and isinstance(value, (dict, list)):
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, dict):
                    self._check_body(f"{where} {key}", item, self.schema["structs"][objects])

    # -- references ---------------------------------------------------------------------------
    def _check_references(self, name, text, declared):
        for line_number, line in enumerate(text.splitlines(), start=1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            for match in _REFERENCE.finditer(code):
                data, terraform_type, label, attribute = match.groups()
                if _inside_plain_string(code, match.start()):
                    continue
                top = "data" if data else "resource"
                where = f"{name}:{line_number}: {match.group(0)}"
                self.stats.references += 1
                if (top, terraform_type, label) not in declared:
                    self._find(where, f"refers to {top} {terraform_type}.{label}, which infra/ does not declare")
                    continue
                block_schema = self.schema[top].get(terraform_type)
                if block_schema and attribute and attribute not in block_schema["attributes"]:
                    self._find(where, f"{terraform_type} has no attribute {attribute}"
                                      f"{_suggest(attribute, {'arguments': dict.fromkeys(block_schema['attributes']), 'blocks': {}})}")


def _members(body):
    return [(k, v) for k, v in body.items() if not k.startswith("__")] if isinstance(body, dict) else []


def _is_block_list(value):
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, dict) and item.get("__is_block__") for item in value)


def _is_object_type(expected):
    return _object_fqn(expected) is not None


def _object_fqn(expected):
    if isinstance(expected, dict):
        if "object" in expected:
            return expected["object"]
        if "list" in expected:
            return _object_fqn(expected["list"])
    return None


def _kind_of(value):
    return "block" if _is_block_list(value) else "argument"


def _suggest(name, block_schema):
    import difflib
    close = difflib.get_close_matches(name, list(block_schema["arguments"]) + list(block_schema["blocks"]), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _line(text, top, terraform_type, label):
    match = re.search(rf'^\s*{top}\s+"{re.escape(terraform_type)}"\s+"{re.escape(label)}"', text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def _inside_plain_string(line, position):
    """True when `position` lies inside a quoted string but outside any `${...}` in it."""
    in_string, depth, i = False, 0, 0
    while i < position:
        c = line[i]
        if in_string and depth == 0:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
            elif line.startswith("${", i):
                depth, i = 1, i + 2
                continue
        elif depth > 0:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == '"':
                # A string nested inside an interpolation: skip it whole.
                end = line.find('"', i + 1)
                i = end + 1 if end != -1 else len(line)
                continue
        elif c == '"':
            in_string = True
        i += 1
    return in_string and depth == 0


def _shown_path(path):
    """infra/x.tf for files of this checkout, the path as given for any other."""
    absolute = os.path.abspath(path)
    inside = absolute.startswith(provider_schema.ROOT + os.sep)
    return os.path.relpath(absolute, provider_schema.ROOT) if inside else path


def declared_blocks(texts):
    """{(top, type, label)} of every resource and data block in the given texts."""
    found = set()
    for text in texts:
        for match in re.finditer(r'^\s*(resource|data)\s+"([a-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"', text, re.M):
            found.add(match.groups())
    return found


def check_directory(directory, schema=None):
    """(findings, stats) for every *.tf file in `directory`."""
    schema = schema or provider_schema.load()
    paths = sorted(glob.glob(os.path.join(directory, "*.tf")))
    texts = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            texts[path] = f.read()
    checker = Checker(schema)
    declared = declared_blocks(texts.values())
    for path in paths:
        checker.check_file(path, texts[path], declared)
    return checker.findings, checker.stats


def main(argv):
    directory = argv[1] if len(argv) > 1 else os.path.join(provider_schema.ROOT, "infra")
    schema = provider_schema.load()
    findings, stats = check_directory(directory, schema)
    for finding in findings:
        print(finding)
    print(f"provider schema (hashicorp/aws {schema['version']}): {stats.blocks} resource and data "
          f"blocks, {stats.arguments} arguments, {stats.nested_blocks} nested blocks, "
          f"{stats.references} references checked; {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
