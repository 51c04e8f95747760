"""Places for support regions: the data file, the lookup and the NLU component."""

from __future__ import annotations

import pytest
import yaml
from babel import Locale

from bot.nlu.place_regions import with_places
from bot.nlu.places import PLACES_FILE, REGIONS, Places, fold, places


def test_the_file_loads_and_no_name_belongs_to_two_regions():
    known = places()  # Places.from_data raises on a name given to two regions
    assert known.region_of("Singapore") == "APJ"


def test_every_country_is_there_in_english_and_spanish():
    data = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))
    codes = {code for entries in data["countries"].values() for code in entries}
    en, es = Locale("en"), Locale("es")
    # Every ISO country CLDR names, except groupings and uninhabited places.
    expected = {
        c for c in en.territories
        if len(c) == 2 and c.isalpha() and c not in {
            "EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AQ", "BV", "HM", "TF", "UM", "CP",
            "DG", "AC", "TA", "EA", "IC",
        }
    }  # fmt: skip
    assert expected <= codes
    known = places()
    for code in ("FR", "JP", "BR", "NG", "KR", "AE", "NZ", "CL"):
        assert known.region_of(en.territories[code]) is not None, code
        assert known.region_of(es.territories[code]) is not None, code


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Singapore", "APJ"),
        ("Corea", "APJ"),
        ("Korea", "APJ"),
        ("Japón", "APJ"),
        ("Sydney", "APJ"),
        ("Bangalore", "APJ"),
        ("UK", "EMEA"),
        ("U.K.", "EMEA"),
        ("Reino Unido", "EMEA"),
        ("Alemania", "EMEA"),
        ("Dubai", "EMEA"),
        ("South Africa", "EMEA"),
        ("USA", "Americas"),
        ("US", "Americas"),
        ("EEUU", "Americas"),
        ("EE. UU.", "Americas"),
        ("Estados Unidos", "Americas"),
        ("Brasil", "Americas"),
        ("Ciudad de México", "Americas"),
        ("Texas", "Americas"),
        ("emea", "EMEA"),
        ("Europa", "EMEA"),
        ("Asia Pacífico", "APJ"),
        ("americas", "Americas"),
        ("soporte en Reunión", "EMEA"),
        ("soporte para Colonia", "EMEA"),
    ],
)
def test_a_place_names_its_region(text, region):
    assert places().region_of(text) == region


@pytest.mark.parametrize(
    "text",
    [
        "us",
        "support for us",
        "la semana",
        "usa el portal",
        "teléfono de soporte, tengo una reunión a las 5",
        "la dirección es en la colonia del Valle",
        "",
        None,
    ],
)
def test_words_that_only_look_like_places_are_not_places(text):
    assert places().region_of(text) is None


def test_the_longest_name_wins():
    found = places().find("offices in Papua New Guinea and New South Wales")
    assert [(p.text, p.region) for p in found] == [
        ("Papua New Guinea", "APJ"),
        ("New South Wales", "APJ"),
    ]


def test_places_are_found_with_their_offsets_as_written():
    text = "teléfono de soporte para Corea del Sur?"
    (place,) = places().find(text)
    assert text[place.start : place.end] == "Corea del Sur" and place.region == "APJ"


def test_a_name_in_two_regions_is_refused():
    data = {"countries": {"EMEA": {"GE": ["Georgia"]}}, "areas": {"Americas": ["georgia"]}}
    with pytest.raises(ValueError, match="both"):
        Places.from_data(data)


def test_fold_ignores_case_and_accents():
    assert fold("México") == fold("mexico") == "mexico"
    assert REGIONS == ("Americas", "EMEA", "APJ")


def test_the_component_adds_the_region_and_replaces_dietss_words():
    text = "Singapore support number?"
    diet = [{"entity": "region", "value": "Singapore", "start": 0, "end": 9}]
    entities = with_places(text, diet, places(), "PlaceRegionExtractor")
    assert [(e["entity"], e["value"]) for e in entities] == [("region", "APJ")]


def test_the_component_leaves_places_inside_other_entities_alone():
    text = "support contact for Globex México"
    account = {"entity": "account_name", "value": "Globex México", "start": 20, "end": 33}
    assert with_places(text, [account], places(), "x") == [account]
