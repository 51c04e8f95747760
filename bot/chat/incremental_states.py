"""A conversation's dialogue states, computed once per event instead of once per call.

To choose each next action Rasa turns the whole conversation into a list of states: it
filters the events (`DialogueStateTracker.applied_events`: undone turns and repeated form
steps removed), replays them one by one into a fresh tracker, and describes the tracker
before every action (`Domain.states_for_tracker_history`). That is done several times per
message (twice per prediction, two or three predictions per message, and once more to see
whether a session has started), from the first event each time: at turn 500 it was three
quarters of a message's time, and it is why stock Rasa slows down as a conversation grows.

The kept trackers (`bot.chat.tracker_store`) make remembering the work worthwhile. Both
functions are replaced by versions that continue from what they computed last time:

- `applied_events`: the events are only ever appended, and the filter is a left-to-right
  pass whose state is the list it builds (an undo removes that list's tail). So the pass
  continues from the last event it saw, as long as the tracker's event list is the same
  object, no shorter, and still holds the same event where the pass stopped. A new form's
  name changes how earlier steps are filtered, so a form never seen before in the
  conversation starts the pass again.
- `states_for_tracker_history`: a checkpoint of the replay (the replay tracker's values,
  the states so far) is kept `CHECKPOINT_LAG` applied events behind the end. The next call
  continues from it when the applied events up to the checkpoint are the very same events
  (an undo or a repeated form step only ever removes a tail); otherwise it replays from the
  start, as Rasa does.

- `DialogueStateTracker.copy`, which Rasa calls before every action it runs (the action
  works on a copy it may throw away), replays every event of the conversation into a new
  tracker. It continues from a checkpoint of that replay in the same way.
- The states handed out are the checkpoint's own (only the list is new): copying two
  thousand states for every call was a tenth of a message's time at turn 500. The one
  place Rasa edits a state the checkpoint holds (the featurizer drops a user text when the
  intent is there) is made to put a text-free state in the list instead, made once per
  state and kept with it. The state Rasa edits in place (the featurizer's choice of text
  or intent in the last state) is the newest, which no checkpoint ever holds.
- `RulePolicy._create_feature_key` writes the conversation's states out as one JSON text
  when no rule applies (once a message at least). The text of a list is its states' texts
  joined, so each kept state's text is written once and kept with it.
- `RulePolicy._get_possible_keys` compares every rule with the states from the latest
  backwards, through the whole conversation; it stops once no rule is left or every rule
  left is shorter than what it has looked at (the rest could not change the answer), and
  it starts from the rules whose last step follows the same action as the conversation's
  last state (of 206 rules, 78 follow a user message and a handful any one action).
- `Policy.format_tracker_states` writes every state out as text for a debug log line; it
  does so only when Rasa's debug logging is on.

Everything else is Rasa's own code: the per-event steps below are the bodies of Rasa 3.6's
loops, and `tests/chat/test_incremental_states.py` checks the results against Rasa's
original functions after every event of conversations with forms, undone turns, fallbacks,
restarts and new sessions.
"""

from __future__ import annotations

import copy
import json
import logging
import operator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Dict, List, Optional, Set, Tuple

from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core import constants as core_constants
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_NAME, INTENT, TEXT

# How far behind the end the replay's checkpoint stays: an undo (a reverted message, a
# repeated form step) that reaches further back than this replays from the start. A message
# adds 5 to 10 applied events, and an undo reaches back to the previous message or the
# form's previous step; every call replays this many events, so it is kept short.
CHECKPOINT_LAG = 32
_MEMO_ATTRIBUTE = "_incremental_states"
_ORIGINAL: Dict[str, Any] = {}


class _Memo:
    """What one tracker's calls computed. A copy of the tracker starts with an empty one."""

    def __init__(self) -> None:
        self.applied: Optional[_AppliedPass] = None
        self.replays: Dict[Tuple[Any, ...], _Replay] = {}
        self.copy_point: Optional[_CopyPoint] = None

    def __copy__(self) -> _Memo:
        return _Memo()

    def __deepcopy__(self, _: Any) -> _Memo:
        return _Memo()

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_Memo, ())


class _KeptState(dict):
    """A state a checkpoint may hold, with what is derived from it made once and kept.

    Nothing edits a kept state once made (see `remove_user_text_if_intent`), so its JSON
    text and its text-free variant stay true.
    """

    __slots__ = ("json", "without_text")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.json: Optional[str] = None
        self.without_text: Optional[_KeptState] = None


def _memo(tracker: DialogueStateTracker) -> _Memo:
    memo = tracker.__dict__.get(_MEMO_ATTRIBUTE)
    if memo is None:
        memo = tracker.__dict__[_MEMO_ATTRIBUTE] = _Memo()
    return memo


# --- applied events -----------------------------------------------------------------------


@dataclass
class _AppliedPass:
    events: Any  # the tracker's deque the pass read
    seen: int  # how many of its events the pass has taken in
    last: Optional[Event]  # events[seen - 1]
    loop_names: Set[str]
    applied: List[Event] = field(default_factory=list)


def _loop_names(events: Any) -> Set[str]:
    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


def _take_in(tracker: DialogueStateTracker, event: Event, state: _AppliedPass) -> None:
    """One step of Rasa's `applied_events` loop."""
    applied = state.applied
    if isinstance(event, (Restarted, SessionStarted)):
        applied.clear()
    elif isinstance(event, ActionReverted):
        tracker._undo_till_previous(ActionExecuted, applied)
    elif isinstance(event, UserUtteranceReverted):
        tracker._undo_till_previous(UserUttered, applied)
        tracker._undo_till_previous(ActionExecuted, applied)
    elif (
        isinstance(event, ActionExecuted)
        and event.action_name in state.loop_names
        and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
    ):
        tracker._undo_till_previous_loop_execution(event.action_name, applied)
    else:
        applied.append(event)


def applied_events(self: DialogueStateTracker) -> List[Event]:
    """Rasa's `applied_events`, continued from where the last call on this tracker stopped."""
    events = self.events
    total = len(events)
    memo = _memo(self)
    state = memo.applied
    usable = (
        state is not None
        and state.events is events
        and state.seen <= total
        and (state.seen == 0 or events[state.seen - 1] is state.last)
    )
    new = list(islice(events, state.seen if usable and state else 0, None))
    if usable and state is not None and not _loop_names(new) <= state.loop_names:
        usable = False  # a form seen for the first time: earlier steps are judged anew
        new = list(events)
    if not usable or state is None:
        state = memo.applied = _AppliedPass(events, 0, None, _loop_names(new))
    for event in new:
        _take_in(self, event, state)
    state.seen = total
    state.last = events[-1] if total else None
    return list(state.applied)


# --- states -------------------------------------------------------------------------------


@dataclass
class _Replay:
    """The replay stopped before `applied[length]`, and what it had computed by then."""

    prefix: List[Event]  # applied[:length], to recognise the same beginning next time
    tracker_values: Dict[str, Any]  # the replay tracker's attributes at that point
    states: List[State]  # the states computed before that point
    last_ml_action_sub_state: Any
    turn_was_hidden: bool


def _copied(values: Dict[str, Any], events: Any) -> Dict[str, Any]:
    """Tracker attributes with the parts a replay changes in place copied (slots, the loop)."""
    fresh = dict(values)
    fresh.pop(_MEMO_ATTRIBUTE, None)
    fresh["slots"] = {name: copy.copy(slot) for name, slot in values["slots"].items()}
    fresh["active_loop"] = copy.copy(values["active_loop"])
    fresh["events"] = events
    return fresh


def _values(tracker: DialogueStateTracker, with_events: bool = False) -> Dict[str, Any]:
    """A replay tracker's attributes, copied deep enough that replaying on cannot alter them.

    The states' replay never reads its own events, so they are kept only `with_events`.
    """
    events = copy.copy(tracker.events) if with_events else tracker._create_events([])
    return _copied(tracker.__dict__, events)


def _tracker_from(values: Dict[str, Any]) -> DialogueStateTracker:
    tracker: DialogueStateTracker = DialogueStateTracker.__new__(DialogueStateTracker)
    tracker.__dict__.update(_copied(values, copy.copy(values["events"])))
    return tracker


def _replay_key(
    domain: Domain,
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
    rule_only_data: Optional[Dict[str, Any]],
) -> Tuple[Any, ...]:
    rule_only = json.dumps(rule_only_data, sort_keys=True, default=str)
    return (id(domain), omit_unset_slots, ignore_rule_only_turns, rule_only)


def _same_beginning(applied: List[Event], prefix: List[Event]) -> bool:
    return len(applied) >= len(prefix) and all(map(operator.is_, applied, prefix))


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[str, Any]] = None,
) -> List[State]:
    """Rasa's `Domain.states_for_tracker_history`, continued from this tracker's checkpoint."""
    applied = tracker.applied_events()
    replays = _memo(tracker).replays
    key = _replay_key(self, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    replay = replays.get(key)
    if replay is not None and _same_beginning(applied, replay.prefix):
        start = len(replay.prefix)
        tr = _tracker_from(replay.tracker_values)
        states = list(replay.states)
        last_ml_action_sub_state = replay.last_ml_action_sub_state
        turn_was_hidden = replay.turn_was_hidden
    else:
        start = 0
        tr = tracker.init_copy()
        states = []
        last_ml_action_sub_state = None
        turn_was_hidden = False
    checkpoint = max(start, len(applied) - CHECKPOINT_LAG)

    def step(hide_rule_turn: bool) -> None:
        """The body of Rasa's loop over `generate_all_prior_trackers`, for one yield."""
        nonlocal last_ml_action_sub_state, turn_was_hidden
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = self._get_prev_action_sub_state(tr)
            if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return
        state = self.get_active_state(tr, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if states:
                self._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[core_constants.PREVIOUS_ACTION] = last_ml_action_sub_state
        states.append(_KeptState(self._clean_state(state)))

    for index in range(start, len(applied)):
        if index == checkpoint and index > start:
            replays[key] = _Replay(
                applied[:index],
                _values(tr),
                list(states),
                copy.deepcopy(last_ml_action_sub_state),
                turn_was_hidden,
            )
        event = applied[index]
        if isinstance(event, ActionExecuted):
            step(event.hide_rule_turn)
        tr.update(event)
    step(False)
    return states


# --- copies -------------------------------------------------------------------------------


@dataclass
class _CopyPoint:
    """`copy`'s replay stopped before `events[seen]`: the replay tracker's values then."""

    events: Any  # the tracker's deque the replay read
    seen: int
    last: Optional[Event]  # events[seen - 1]
    tracker_values: Dict[str, Any]


def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
    """Rasa's `copy` (every event replayed into a new tracker), from this tracker's checkpoint."""
    events = self.events
    total = len(events)
    memo = _memo(self)
    point = memo.copy_point
    if (
        point is not None
        and point.events is events
        and point.seen <= total
        and (point.seen == 0 or events[point.seen - 1] is point.last)
    ):
        start = point.seen
        tracker = _tracker_from(point.tracker_values)
    else:
        start = 0
        tracker = self.init_copy()
    checkpoint = max(start, total - CHECKPOINT_LAG)
    for index, event in enumerate(islice(events, start, None), start):
        if index == checkpoint and index > start:
            memo.copy_point = _CopyPoint(events, index, events[index - 1], _values(tracker, True))
        if not event.timestamp <= float("inf"):  # Rasa's `travel_back_in_time(inf)`
            break
        tracker.update(event)
    return tracker


def format_tracker_states(states: List[Dict]) -> str:
    """Rasa's debug text of the states, when the debug line it is for will be written."""
    if not logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
        return ""
    return str(original("format_tracker_states")(states))


def _without_text(state: State) -> State:
    user = {key: value for key, value in state[USER].items() if key != TEXT}
    return _KeptState(state, **{USER: user})


def remove_user_text_if_intent(trackers_as_states: List[List[State]]) -> None:
    """Rasa's featurizer step, without editing the states the checkpoints share.

    Rasa deletes the text from a state's user part when the intent is there too. The states
    are the checkpoint's, so the list gets a state without the text instead, made once for
    each kept state.
    """
    for states in trackers_as_states:
        for index, state in enumerate(states):
            user = state.get(USER, {})
            if not (user.get(INTENT) and user.get(TEXT)):
                continue
            if isinstance(state, _KeptState):
                if state.without_text is None:
                    state.without_text = _without_text(state)
                states[index] = state.without_text
            else:
                states[index] = _without_text(state)


def _state_json(state: State) -> str:
    if not isinstance(state, _KeptState):
        return json.dumps(state, sort_keys=True)
    if state.json is None:
        state.json = json.dumps(state, sort_keys=True)
    return state.json


def create_feature_key(self: RulePolicy, states: List[State]) -> Optional[str]:
    """Rasa's `RulePolicy._create_feature_key`, from each state's text made once.

    Rasa's key is the JSON text (keys sorted) of the states after the last rule snippet;
    `json.dumps` writes a list as its items' texts joined by ", " within brackets.
    """
    start = len(states)
    while start and not self._is_rule_snippet_state(states[start - 1]):
        start -= 1
    if start == len(states):
        return None
    return "[" + ", ".join(map(_state_json, islice(states, start, None))) + "]"


@dataclass
class _RuleIndex:
    """A lookup's rules by the previous action their last state names.

    A rule whose last state names a previous action can only apply when the conversation's
    last state names the same one (Rasa's `_does_rule_match_state` compares them); the
    others (no previous action, or none named) are checked as Rasa checks them.
    """

    lookup: Dict[str, str]
    size: int
    by_action: Dict[Optional[str], List[str]]
    always: List[str]


def _rule_index(policy: RulePolicy, lookup: Dict[str, str]) -> _RuleIndex:
    indexes: Dict[int, _RuleIndex] = policy.__dict__.setdefault("_incremental_rule_index", {})
    index = indexes.get(id(lookup))
    if index is not None and index.lookup is lookup and index.size == len(lookup):
        return index
    by_action: Dict[Optional[str], List[str]] = {}
    always: List[str] = []
    for key in lookup:
        name = policy._rule_key_to_state(key)[-1].get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
        if name and name != SHOULD_NOT_BE_SET:
            by_action.setdefault(name, []).append(key)
        else:
            always.append(key)
    index = indexes[id(lookup)] = _RuleIndex(lookup, len(lookup), by_action, always)
    return index


def get_possible_keys(self: RulePolicy, lookup: Dict[str, str], states: List[State]) -> Set[str]:
    """Rasa's `RulePolicy._get_possible_keys`, from the rules that can match the last state.

    Rasa filters every rule against the conversation's states from the latest backwards,
    through the whole conversation; a rule is kept without looking once the states go further
    back than the rule is long. So when no rule is left, or every rule left is shorter than
    the states looked at, the rest of the conversation cannot change the set. The first
    filter looks only at the rules whose last state could match the conversation's
    (`_RuleIndex`), instead of all of them.
    """
    possible_keys: Set[str] = set(lookup.keys())
    if states and states[-1].get(PREVIOUS_ACTION):
        index = _rule_index(self, lookup)
        name = states[-1][PREVIOUS_ACTION].get(ACTION_NAME)
        possible_keys = set(index.by_action.get(name, ())).union(index.always)
    for turn, state in enumerate(reversed(states)):
        if not possible_keys:
            break
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, turn, state)}
        if all(len(self._rule_key_to_state(key)) <= turn + 1 for key in possible_keys):
            break
    return possible_keys


def install() -> None:
    """Use the incremental versions in this process (the Rasa server calls this once)."""
    if _ORIGINAL:
        return
    for owner, name, replacement in _REPLACEMENTS:
        _ORIGINAL[name] = owner.__dict__[name]
        setattr(owner, name, replacement)


def uninstall() -> None:
    """Rasa's own functions again (for tests that compare the two)."""
    for owner, name, _ in _REPLACEMENTS:
        if name in _ORIGINAL:
            setattr(owner, name, _ORIGINAL.pop(name))


def original(name: str) -> Any:
    """Rasa's own function `name` (installed or not)."""
    for owner, replaced, _ in _REPLACEMENTS:
        if replaced == name:
            found = _ORIGINAL.get(name) or owner.__dict__[name]
            return found.__func__ if isinstance(found, staticmethod) else found
    raise KeyError(name)


_REPLACEMENTS: List[Tuple[Any, str, Any]] = [
    (DialogueStateTracker, "applied_events", applied_events),
    (Domain, "states_for_tracker_history", states_for_tracker_history),
    (DialogueStateTracker, "copy", copy_tracker),
    (Policy, "format_tracker_states", staticmethod(format_tracker_states)),
    (TrackerFeaturizer, "_remove_user_text_if_intent", staticmethod(remove_user_text_if_intent)),
    (RulePolicy, "_get_possible_keys", get_possible_keys),
    (RulePolicy, "_create_feature_key", create_feature_key),
]
