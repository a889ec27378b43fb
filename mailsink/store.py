"""The caught mail, kept as JSON lines in one file so it survives a restart.

Each line holds a message as it arrived (its raw bytes, base64), its recipients and when it
came; it is read into its parts (``parse_email``) only when somebody looks at the mailbox.
Parsing with the ``email`` package's modern API costs ~2 ms of CPU a message, and the sink
shares the machine with the platform it catches mail for: a bidding war sends an email for
almost every bid, and nobody reads most of them."""

from __future__ import annotations

import base64
import json
import threading
from email import message_from_bytes, policy
from pathlib import Path

from auction_common.events import isoformat, utcnow


def parse_email(raw: bytes, recipients: list[str], received_at: str | None = None) -> dict:
    """``{to, from, subject, message_id, text, html, list_unsubscribe, list_unsubscribe_post,
    received_at}`` of a raw RFC 5322 message (the unsubscribe headers ``None`` when absent;
    ``received_at`` now unless given)."""
    message = message_from_bytes(raw, policy=policy.default)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return {
        "to": recipients,
        "from": str(message.get("From", "")),
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")),
        "text": text_part.get_content() if text_part else "",
        "html": html_part.get_content() if html_part else "",
        "list_unsubscribe": _header(message, "List-Unsubscribe"),
        "list_unsubscribe_post": _header(message, "List-Unsubscribe-Post"),
        "received_at": received_at or isoformat(utcnow()),
    }


def _header(message, name: str) -> str | None:
    value = message.get(name)
    return str(value).strip() if value is not None else None


class Mailbox:
    """Append-only, thread-safe store of caught emails, shown as a mailbox shows them: a
    message that arrives again with a Message-ID already held (its sender sent it again, not
    knowing it had arrived) is the same message, counted in its ``copies``, not a second one —
    as the big mail providers do."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        #: Each line of the file read so far, and what it holds: a line is read once, and
        #: whatever another process did to the file meanwhile, each line stands for itself.
        self._parsed: dict[str, dict] = {}

    def add_raw(self, raw: bytes, recipients: list[str]) -> None:
        """Keep one email as it arrived, read into its parts only when looked at."""
        self.add({"raw": base64.b64encode(raw).decode("ascii"), "to": recipients,
                  "received_at": isoformat(utcnow())})

    def add(self, item: dict) -> None:
        """Keep one email: as it arrived (``add_raw``) or already read into its parts (as
        ``parse_email`` gives them)."""
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(item) + "\n")

    def items(self) -> list[dict]:
        """Every email, newest first, each once, with how many ``copies`` of it arrived."""
        shown: dict[str, dict] = {}
        for position, item in enumerate(self.received()):
            key = item.get("message_id") or f"no Message-ID #{position}"
            if key in shown:
                shown[key]["copies"] += 1
            else:
                shown[key] = {**item, "copies": 1}
        return list(reversed(shown.values()))

    def received(self) -> list[dict]:
        """Every copy the SMTP server accepted, in the order it came."""
        with self._lock:
            if not self.path.exists():
                self._parsed = {}
                return []
            lines = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
            known, self._parsed = self._parsed, {}
            for line in lines:
                self._parsed[line] = known.get(line) or _read(line)
            return [dict(self._parsed[line]) for line in lines]

    def clear(self) -> None:
        """Forget every email."""
        with self._lock:
            self.path.unlink(missing_ok=True)
            self._parsed = {}


def _read(line: str) -> dict:
    item = json.loads(line)
    if "raw" not in item:  # kept already read (an older sink's file, or ``add``)
        return item
    return parse_email(base64.b64decode(item["raw"]), item["to"], item["received_at"])
