"""The suite's standard titles for the specs it saves."""

import datetime as dt

from reportmanagementSupport import (fingerprint, is_auto_title, legal_title_text, spec_for_publisher,
                                     standard_title)

WHEN = dt.datetime(2026, 6, 5, 8, 0, 31, tzinfo=dt.timezone.utc)


def test_standard_title_and_updated_form():
    title = standard_title("Generic Revenue Report", "rob@progsales.com", WHEN)
    assert title == ("Generic Revenue Report taken from Prog API Temporary AutoUploaded report by "
                     "rob_progsales.com 2026-06-05 08.00.31")
    updated = standard_title("Generic Revenue Report", "rob@progsales.com", WHEN, updated=True)
    assert " UPDATED taken from" in updated
    assert is_auto_title(title) and is_auto_title(updated)
    assert not is_auto_title("Generic Revenue Report") and not is_auto_title("My own taken from report")


def test_titles_are_legal_and_short_enough():
    title = standard_title("Intäkter, per dag: \"alla\" / " + "x" * 400, "a+b@c.se", WHEN)
    assert len(title) <= 255
    assert all(ch.isascii() and (ch.isalnum() or ch in " -_.") for ch in title)
    assert is_auto_title(title)
    assert legal_title_text("Café, Öl") == "Cafe_ Ol"


def test_spec_for_publisher_forces_settings_and_drops_schedules():
    template = {"reportTitle": "T", "accounts": [1], "fileType": "csv.gz", "regionSetting": "account",
                "schedule": {"x": 1}, "delivery": {"y": 2}, "querySpec": {"fields": ["day"]},
                "dateRange": {"current": "day"}, "custom": True}
    spec = spec_for_publisher(template, 42)
    assert spec == {"accounts": [42], "fileType": "csv", "regionSetting": "standard",
                    "querySpec": {"fields": ["day"]}, "dateRange": {"current": "day"}, "custom": True}
    assert template["accounts"] == [1], "the template itself is not changed"
    assert fingerprint(dict(spec, reportTitle="a")) == fingerprint(dict(spec, reportTitle="b"))
    assert fingerprint(spec) != fingerprint(spec_for_publisher(template, 43))
