"""Write the app's OpenAPI document to a file (default docs/openapi.json), for review diffs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from backend.app import create_app

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.json")
    app = create_app()
    with app.test_request_context():
        spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    # The app's JSON provider renders Decimal bounds (money minimums) as numbers, as /api/openapi.json does.
    out.write_text(json.dumps(json.loads(app.json.dumps(spec)), indent=2, sort_keys=True) + "\n")
    print(f"wrote {out} ({len(spec['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
