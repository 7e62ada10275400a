#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Validates `concur compare --json` output against schema.json.

Usage: validate_json.py SCHEMA FILE [--complete] [--with-python | --without-python]

Uses the jsonschema package when it is installed; otherwise a small validator of the subset
of JSON Schema that schema.json uses (type, const, required, properties,
additionalProperties, items, minimum, exclusiveMinimum, $ref to #/$defs). Then checks what a
schema cannot say: every number is finite (Python's json accepts NaN and Infinity). With
--complete it also requires a complete run: every figure of every model present (in C++, and in
Python when the python section is there), no failure notes, and I/O-bound concurrency beating
the serial sum at every N. --with-python requires the python section, --without-python its
absence.
"""
import json
import math
import sys

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}
KNOWN = {"$schema", "$id", "$defs", "title", "description", "type", "const", "required",
         "properties", "additionalProperties", "items", "minimum", "exclusiveMinimum", "$ref"}


def resolve(root, ref):
    if not ref.startswith("#/"):
        raise ValueError(f"unsupported $ref {ref}")
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def check(root, schema, value, path, errors):
    unknown = set(schema) - KNOWN
    if unknown:
        raise ValueError(f"schema keywords this validator does not know: {sorted(unknown)}")
    if "$ref" in schema:
        check(root, resolve(root, schema["$ref"]), value, path, errors)
    if "type" in schema and not TYPES[schema["type"]](value):
        errors.append(f"{path}: expected {schema['type']}, got {json.dumps(value)}")
        return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {json.dumps(schema['const'])}")
    if "minimum" in schema and TYPES["number"](value) and not value >= schema["minimum"]:
        errors.append(f"{path}: {value} < minimum {schema['minimum']}")
    if "exclusiveMinimum" in schema and TYPES["number"](value) and not value > schema["exclusiveMinimum"]:
        errors.append(f"{path}: {value} <= exclusive minimum {schema['exclusiveMinimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required '{key}'")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                check(root, props[key], item, f"{path}.{key}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property '{key}'")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(root, schema["items"], item, f"{path}[{i}]", errors)


def numbers(value, path):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        yield path, value


FIGURES = ["startup_s", "memory_per_unit_bytes", "units_in_budget", "handoff_s", "cpu_bound",
           "alloc_bound", "lock_uncontended_s", "counter_contended_s"]


def check_complete_models(models, where, errors, tuned):
    for name, model in models.items():
        for figure in FIGURES:
            if figure not in model:
                errors.append(f"{where}.{name}: '{figure}' was not measured")
        if tuned and name != "asyncio" and "alloc_bound_tuned" not in model:
            errors.append(f"{where}.{name}: 'alloc_bound_tuned' was not measured")
        for series in ("io_bound", "io_sockets"):
            if not model[series]:
                errors.append(f"{where}.{name}.{series}: no point was measured")
            for i, p in enumerate(model[series]):
                if not p["wall_s"] < p["serial_sum_s"]:
                    errors.append(f"{where}.{name}.{series}[{i}]: N={p['units']} concurrent took "
                                  f"{p['wall_s']} s, not less than the serial sum {p['serial_sum_s']} s")


def validate(schema, doc, complete, python=None):
    errors = []
    try:
        import jsonschema  # noqa: F401  (optional)
        validator = jsonschema.Draft202012Validator(schema)
        errors += [f"$.{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
    except ImportError:
        check(schema, schema, doc, "$", errors)
    for path, v in numbers(doc, "$"):
        if not math.isfinite(v):
            errors.append(f"{path}: not finite ({v})")
    if python is True and "python" not in doc:
        errors.append("$: no python section (Python was not measured)")
    if python is False and "python" in doc:
        errors.append("$.python: present although Python was not to be measured")
    if complete and not errors:
        if doc["complete"] is not True:
            errors.append("$.complete: the run was not complete")
        if doc["notes"]:
            errors.append(f"$.notes: steps failed: {doc['notes']}")
        check_complete_models(doc["models"], "$.models", errors, tuned=True)
        if "python" in doc:
            check_complete_models(doc["python"]["models"], "$.python.models", errors, tuned=False)
    return errors


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    with open(argv[2]) as f:
        doc = json.load(f)
    python = True if "--with-python" in argv[3:] else False if "--without-python" in argv[3:] else None
    errors = validate(schema, doc, "--complete" in argv[3:], python)
    for e in errors:
        print(e)
    print("valid" if not errors else f"{len(errors)} error(s)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
