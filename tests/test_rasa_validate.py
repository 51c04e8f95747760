"""`rasa data validate` finds no problem in the domain, the NLU data, the rules and stories.

Rasa warns about every response no story or rule utters. Here most responses are
sent by custom actions (a list, a denial, a form's question), which Rasa cannot
see; those warnings are expected, and this test checks that each such response
really is sent by an action or asked by a form: any other warning is a problem.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from typing import List, Pattern

import yaml

from bot.settings import PROJECT_ROOT

UNUSED = re.compile(r"The utterance '(?P<name>utter_\w+)' is not used in any story or rule\.")
# A response name in the actions: a literal, or an f-string such as f"utter_denied_{reason}".
RESPONSE_IN_CODE = re.compile(r"f?\"(utter_[a-z0-9_]*(?:\{[^}\"]*\}[a-z0-9_]*)*)\"")


@cache
def validation() -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "rasa", "data", "validate", "--domain", "domain"]
    return subprocess.run(
        [*command, "--data", "data"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )


def warnings_of(output: str) -> List[str]:
    return [line.split("UserWarning: ", 1)[1].strip() for line in output.splitlines()
            if "UserWarning: " in line]  # fmt: skip


@cache
def responses_sent_by_actions() -> List[Pattern[str]]:
    patterns = []
    # The actions, and the handoff desk, which says its notices outside a turn.
    code = [*(PROJECT_ROOT / "actions").glob("*.py"), *(PROJECT_ROOT / "bot/handoff").glob("*.py")]
    for path in code:
        for name in RESPONSE_IN_CODE.findall(path.read_text(encoding="utf-8")):
            parts = re.split(r"\{[^}]*\}", name)
            patterns.append(re.compile("[a-z_]+".join(map(re.escape, parts)) + "$"))
    return patterns


@cache
def form_questions() -> set:
    """`utter_ask_<slot>` and `utter_ask_<form>_<slot>`: Rasa asks these itself."""
    questions = set()
    for path in (PROJECT_ROOT / "domain").glob("*.yml"):
        domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for form, spec in (domain.get("forms") or {}).items():
            for slot in spec.get("required_slots") or []:
                questions |= {f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"}
    return questions


def test_rasa_data_validate_passes():
    result = validation()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_its_only_warnings_are_responses_the_actions_or_forms_send():
    result = validation()
    unexplained = []
    for warning in warnings_of(result.stdout + result.stderr):
        unused = UNUSED.fullmatch(warning)
        if unused is None:
            unexplained.append(warning)
            continue
        name = unused["name"]
        sent = any(p.match(name) for p in responses_sent_by_actions())
        if not sent and name not in form_questions():
            unexplained.append(warning)
    assert unexplained == []


def test_the_check_sees_responses_built_from_values():
    names = responses_sent_by_actions()
    assert any(p.match("utter_denied_account_type") for p in names)
    assert any(p.match("utter_update_company_summary") for p in names)
    assert not any(p.match("utter_never_written_anywhere") for p in names)
