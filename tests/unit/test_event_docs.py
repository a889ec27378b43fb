"""docs/events.md promises that every example envelope validates against its schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

from auction_common.events import EventSchemas

ROOT = Path(__file__).resolve().parents[2]


def test_every_example_in_the_event_catalogue_validates():
    schemas = EventSchemas(*sorted(ROOT.glob("*/event_schemas")))
    text = (ROOT / "docs" / "events.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", text, re.S)]
    envelopes = [e for e in examples if isinstance(e, dict) and "type" in e]
    assert len(envelopes) >= 12
    for envelope in envelopes:
        schemas.validate(envelope)
