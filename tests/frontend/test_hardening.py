"""What an outside probe tried on the frontend (issue 12)."""

from __future__ import annotations

import pytest

from frontend.auth import safe_next


@pytest.mark.parametrize("target", ["/a\nb", "/a\r\nSet-Cookie: x=1", "/\tx", "/a\x7fb",
                                    "/a\x00b"])
def test_a_next_with_a_control_character_goes_home_instead(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("page", ["/login", "/register"])
def test_the_sign_in_pages_with_a_line_break_in_next_render(client, page):
    answer = client.get(page, query_string={"next": "/auctions/x\nLocation: //evil.example"})
    assert answer.status_code == 200
    assert "evil.example" not in answer.get_data(as_text=True)

