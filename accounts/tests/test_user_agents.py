"""accounts/user_agents.py: a sign-in's browser and system in words a person recognises."""

import pytest

from accounts.user_agents import browser_and_system


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on Ubuntu",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1 Safari/605.1.15",
            "Safari 17 on Mac OS X 10",
        ),
        ("curl/8.5.0", "curl 8"),  # a script: no system to name
        ("", "Unknown browser"),
        ("something nobody has seen", "Unknown browser"),
    ],
)
def test_the_header_is_named_as_browser_and_system(header, shown):
    assert browser_and_system(header) == shown
