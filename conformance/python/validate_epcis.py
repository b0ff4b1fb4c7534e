"""Validates an EPCIS 2.0 JSON document against GS1's EPCIS 2.0 JSON schema.

usage: validate_epcis.py SCHEMA_DIR DOCUMENT.json  (exit 0 = valid)
"""
import json
import pathlib
import sys

import jsonschema


def main() -> int:
    schema = json.loads((pathlib.Path(sys.argv[1]) / "EPCIS-JSON-Schema.json").read_text())
    doc = json.loads(pathlib.Path(sys.argv[2]).read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:20]:
        print(f"{list(e.path)}: {e.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
