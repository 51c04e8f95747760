"""ActionSupportContact finds the region asked for by a region or a place (bot/nlu/places.yml)."""

from __future__ import annotations

import pytest

from actions.session import ActionSupportContact


def regions_shown(outcome) -> list[str]:
    lines = outcome.values("utter_support_contacts")["contacts"].splitlines()
    return [line.split(":")[0].lstrip("• ") for line in lines]


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("APJ", "APJ"),
        ("Europe", "EMEA"),
        ("Singapore", "APJ"),
        ("Corea", "APJ"),
        ("EEUU", "Americas"),
        ("Reino Unido", "EMEA"),
    ],
)
async def test_a_region_value_or_a_place_gives_that_regions_contacts(run, value, region):
    entity = {"entity": "region", "value": value, "start": 0, "end": len(value)}
    outcome = await run(ActionSupportContact(), None, entities=[entity])
    assert regions_shown(outcome) == [region]


async def test_a_place_in_the_message_counts_when_no_entity_names_one(run):
    outcome = await run(ActionSupportContact(), None, text="teléfono de soporte para Corea")
    assert regions_shown(outcome) == ["APJ"]


async def test_an_unknown_place_gives_every_region(run):
    entity = {"entity": "region", "value": "Atlantis", "start": 0, "end": 8}
    outcome = await run(ActionSupportContact(), None, entities=[entity], text="support Atlantis")
    assert sorted(regions_shown(outcome)) == ["APJ", "Americas", "EMEA"]
