"""Print the server's OpenAPI document as JSON, built in process (no server, no network).

Run with the repository's venv: `.venv/bin/python sdk/typescript/scripts/openapi_spec.py`.
`npm run generate` and the drift test (test/drift.test.ts) call it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from service.api.app import create_app
from service.config import Settings

if __name__ == "__main__":
    spec = create_app(Settings()).openapi()
    json.dump(spec, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
