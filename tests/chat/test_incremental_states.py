"""The incremental dialogue states are Rasa's, after every event of a long, untidy conversation.

The conversation is every test story of the assistant (forms included) played one after the
other, with what real conversations add between them: messages undone by a fallback, undone
actions, a form rejecting its turn and being interrupted, slots set by actions, follow-up
actions, a restart and a new session. After each event the incremental `applied_events` and
`states_for_tracker_history` are compared with Rasa's own functions on the same tracker, and
so are what Rasa's rule policy makes of the states (its prediction states, the rules that
apply, the JSON key of the states).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Iterator, List

import pytest
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.core.constants import (
    ACTION_LISTEN_NAME,
    ACTION_SESSION_START_NAME,
    RULE_SNIPPET_ACTION_NAME,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

from bot.chat import incremental_states
from tests.conftest import ROOT

# The featurizer Rasa's RulePolicy predicts with (the whole history, no state featurizer).
FEATURIZER = MaxHistoryTrackerFeaturizer(state_featurizer=None, max_history=None)
STORIES = sorted((ROOT / "tests" / "stories").glob("*.yml"))
RULE_ONLY = {"rule_only_slots": ["language"], "rule_only_loops": ["generate_report_form"]}
VARIANTS = [  # (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    (False, False, None),
    (False, False, RULE_ONLY),  # what RulePolicy asks for
    (True, True, RULE_ONLY),  # what the ML policies ask for
]


def rule_policy() -> RulePolicy:
    return RulePolicy.create(
        RulePolicy.get_default_config(), None, None, ExecutionContext(GraphSchema({}), "test")
    )


@pytest.fixture(scope="module")
def domain(domain: Domain) -> Domain:
    """The assistant's domain, plus a slot that shapes the dialogue (the assistant has none)."""
    mood = {
        "type": "categorical",
        "values": ["calm", "upset"],
        "influence_conversation": True,
        "mappings": [{"type": "custom"}],
    }
    return domain.merge(Domain.from_dict({"slots": {"mood": mood}}))


@pytest.fixture(autouse=True)
def incremental():
    incremental_states.install()
    yield
    incremental_states.uninstall()


def story_events(domain: Domain, path: Path) -> Iterator[Event]:
    for step in YAMLStoryReader(domain).read_from_file(str(path)):
        yield from step.explicit_events(domain)


def untidy_conversation(domain: Domain, seed: int) -> List[Event]:
    """Every story, with undone turns, rejected and interrupted forms, restarts mixed in."""
    rng = random.Random(seed)
    form = "generate_report_form"
    events: List[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        ActionExecuted(ACTION_LISTEN_NAME),
    ]
    for path in STORIES:
        for event in story_events(domain, path):
            events.append(event)
            if not isinstance(event, UserUttered):
                continue
            roll = rng.random()
            if roll < 0.08:  # a fallback undoes the message
                events += [ActionExecuted("action_default_fallback"), UserUtteranceReverted()]
            elif roll < 0.12:  # an action undone
                events += [ActionExecuted("utter_greet"), ActionReverted()]
            elif roll < 0.16:  # the form rejects the turn, a rule answers, the form goes on
                events += [
                    ActionExecuted(form),
                    ActionExecutionRejected(form),
                    ActionExecuted("utter_iamabot"),
                    LoopInterrupted(True),
                    ActionExecuted(ACTION_LISTEN_NAME),
                    UserUttered("/affirm", {"name": "affirm", "confidence": 1.0}),
                    ActionExecuted(form),
                    ActiveLoop(None),
                ]
            elif roll < 0.30:
                events += [
                    DefinePrevUserUtteredFeaturization(rng.random() < 0.5),
                    SlotSet("language", rng.choice(["en", "es"])),
                    SlotSet("mood", rng.choice(["calm", "upset", None])),
                    FollowupAction("utter_greet"),
                    BotUttered("hi"),
                ]
            elif roll < 0.31:
                events += [Restarted(), ActionExecuted(ACTION_LISTEN_NAME)]
            elif roll < 0.32:
                events += [
                    ActionExecuted(ACTION_SESSION_START_NAME),
                    SessionStarted(),
                    ActionExecuted(ACTION_LISTEN_NAME),
                ]
    return events


def rasa_states(domain: Domain, tracker: DialogueStateTracker, variant: tuple) -> list:
    """Rasa's own states, with Rasa's own applied events underneath."""
    incremental_states.uninstall()
    try:
        omit, ignore, rule_only = variant
        return domain.states_for_tracker_history(tracker, omit, ignore, copy.deepcopy(rule_only))
    finally:
        incremental_states.install()


def tracker_values(tracker: DialogueStateTracker) -> tuple:
    """Everything a copy's user can see, with the events compared by identity."""
    loop = tracker.active_loop
    known = {id(event) for event in tracker.events}

    def which(event: Event) -> tuple:  # one of the events, or a new empty one
        return (id(event),) if id(event) in known else (type(event).__name__, event.text)

    return (
        [id(event) for event in tracker.events],
        {name: (slot.value, slot.has_been_set) for name, slot in tracker.slots.items()},
        None if loop is None else (loop.name, loop.is_interrupted, loop.rejected),
        tracker.latest_action,
        which(tracker.latest_message),
        which(tracker.latest_bot_utterance),
        tracker.followup_action,
        tracker.is_paused(),
        tracker.sender_id,
    )


def rasa_prediction_states(domain: Domain, tracker: DialogueStateTracker, use_text: bool):
    incremental_states.uninstall()
    try:
        return FEATURIZER.prediction_states([tracker], domain, use_text, False, RULE_ONLY)
    finally:
        incremental_states.install()


def rasa_copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    return incremental_states.original("copy")(tracker)


@pytest.mark.parametrize("lag", [3, incremental_states.CHECKPOINT_LAG])
@pytest.mark.parametrize("seed", [1, 2])
def test_after_every_event_the_states_are_rasas(domain, monkeypatch, lag, seed):
    monkeypatch.setattr(incremental_states, "CHECKPOINT_LAG", lag)
    events = untidy_conversation(domain, seed)
    assert len(events) > 400
    tracker = DialogueStateTracker("someone", domain.slots)
    rasa_applied = incremental_states.original("applied_events")
    policy = rule_policy()
    rasa_key = incremental_states.original("_create_feature_key")
    for number, event in enumerate(events):
        tracker.update(event, domain)
        applied = tracker.applied_events()
        assert all(map(lambda a, b: a is b, applied, rasa_applied(tracker)))
        assert len(applied) == len(rasa_applied(tracker)), f"event {number}"
        for variant in VARIANTS:
            omit, ignore, rule_only = variant
            ours = domain.states_for_tracker_history(tracker, omit, ignore, rule_only)
            assert ours == rasa_states(domain, tracker, variant), f"event {number}, {variant}"
            # Rasa's featurizer edits the last state in place (text or intent, not both):
            # what the next call answers must not have kept that edit
            ours[-1].pop("user", None)
        # and what Rasa's rule policy makes of them, text first then intent, as it predicts
        for use_text in (True, False):
            ours = FEATURIZER.prediction_states([tracker], domain, use_text, False, RULE_ONLY)
            assert ours == rasa_prediction_states(domain, tracker, use_text), f"event {number}"
            key = policy._create_feature_key(ours[0])
            assert key == rasa_key(policy, ours[0]), f"event {number}"
        twin = tracker.copy()
        assert tracker_values(twin) == tracker_values(rasa_copy(tracker)), f"event {number}"
        twin.update(SlotSet("mood", "upset"))  # a copy's changes stay in the copy
        assert tracker_values(tracker.copy()) == tracker_values(rasa_copy(tracker))


def test_a_copied_tracker_starts_afresh_and_agrees(domain):
    events = untidy_conversation(domain, 3)
    tracker = DialogueStateTracker("someone", domain.slots)
    for event in events[:200]:
        tracker.update(event, domain)
    tracker.past_states(domain)
    twin = tracker.copy()
    for event in events[200:260]:
        twin.update(event, domain)
    assert twin.past_states(domain) == rasa_states(domain, twin, VARIANTS[0])
    assert tracker.past_states(domain) == rasa_states(domain, tracker, VARIANTS[0])


def test_the_next_message_replays_only_the_end_of_a_long_conversation(domain, monkeypatch):
    events = untidy_conversation(domain, 4)
    tracker = DialogueStateTracker("someone", domain.slots)
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            continue  # one long session
        tracker.update(event, domain)
    tracker.past_states(domain)
    tracker.past_states(domain)  # the checkpoint is now behind the end
    replayed = 0
    update = DialogueStateTracker.update

    def counted(self, event, domain=None):
        nonlocal replayed
        replayed += self is not tracker
        return update(self, event, domain)

    monkeypatch.setattr(DialogueStateTracker, "update", counted)
    for event in [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("hi", {"name": "greet"})]:
        tracker.update(event, domain)
    tracker.past_states(domain)
    assert len(tracker.applied_events()) > 5 * incremental_states.CHECKPOINT_LAG
    assert replayed <= incremental_states.CHECKPOINT_LAG + 2


def test_the_rules_that_apply_are_rasas(domain):
    """Rules cut from the conversation itself (some from its start), matched at every turn."""
    rng = random.Random(5)
    policy = rule_policy()
    tracker = DialogueStateTracker("someone", domain.slots)
    events = untidy_conversation(domain, 5)
    for event in events:
        tracker.update(event, domain)
    every_state = FEATURIZER.prediction_states([tracker], domain)[0]
    lookup = {}
    for _ in range(300):
        length = rng.randint(1, 5)
        end = rng.randint(length, len(every_state))
        rule = every_state[end - length : end]
        if rng.random() < 0.2:
            rule = [{}] + rule  # a rule that starts a conversation
        lookup[json.dumps(rule, sort_keys=True)] = "utter_greet"
    rasas = incremental_states.original("_get_possible_keys")
    checked = matched = 0
    tracker = DialogueStateTracker("someone", domain.slots)
    for event in events:
        tracker.update(event, domain)
        if not isinstance(event, ActionExecuted):
            continue
        states = FEATURIZER.prediction_states([tracker], domain)[0]
        ours = policy._get_possible_keys(lookup, states)
        assert ours == rasas(policy, lookup, states)
        checked += 1
        matched += bool(ours)
    assert checked > 100 and matched > 20


@pytest.mark.parametrize("snippet_at", [None, 0, 3, 5])
def test_the_key_of_the_states_after_a_rule_snippet_is_rasas(domain, snippet_at):
    tracker = DialogueStateTracker("someone", domain.slots)
    for event in untidy_conversation(domain, 6)[:40]:
        tracker.update(event, domain)
    states = FEATURIZER.prediction_states([tracker], domain)[0][-6:]
    if snippet_at is not None:
        states[snippet_at] = {"prev_action": {"action_name": RULE_SNIPPET_ACTION_NAME}}
    policy = rule_policy()
    rasas = incremental_states.original("_create_feature_key")(policy, states)
    assert policy._create_feature_key(states) == rasas
    assert (rasas is None) == (snippet_at == 5)
