"""Where the time of the project's Rasa process goes: a stack sampler and its areas.

py-spy is not installed here, so `serve_profiled` runs the Rasa process with a thread that
samples every Python thread's stack (measure.py starts it through PROFILE_BOOT);
`profile_windows` then sorts the event loop's busy samples into the steps of Rasa's message
processing (AREA_TIERS), each with the design change that would take its time away (REMEDIES).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.performance.findings import ProfileWindow
from bot.settings import PROJECT_ROOT

PROFILE_BOOT = (
    "import sys; from bench.performance.profile import serve_profiled; "
    "serve_profiled(sys.argv[1], sys.argv[2:])"
)
SAMPLE_EVERY = 0.005
# The part of a turn a sample belongs to: the outermost frame on its stack that matches a
# rule of the first tier that has one (Rasa's processor steps, then the conversation layer,
# then the channel that calls it).
AREA_TIERS: Tuple[Tuple[Tuple[str, Tuple[str, ...], str], ...], ...] = (
    (
        ("rasa/core/lock_store.py", (), "lock store (Redis)"),
        (
            "rasa/core/processor.py",
            (
                "fetch_tracker_and_update_session",
                "fetch_tracker_with_initial_session",
                "get_tracker",
                "_update_tracker_session",
            ),
            "reading the conversation (tracker store)",
        ),
        ("rasa/core/processor.py", ("save_tracker",), "saving the conversation (tracker store)"),
        ("rasa/core/processor.py", ("parse_message",), "understanding the message (NLU)"),
        (
            "rasa/core/processor.py",
            ("predict_next_with_tracker_if_should", "_predict_next_with_tracker"),
            "choosing the next action (policies)",
        ),
        (
            "rasa/core/processor.py",
            ("_run_action", "execute_side_effects"),
            "running actions (incl. the call to the action server)",
        ),
    ),
    (("bot/chat/", (), "conversation layer (identity, metadata)"),),
    (("bot/channels/", (), "portal channel"),),
)
OTHER_AREA = "HTTP server, event loop and the rest"
# For a missed target: the design change that takes away the largest area's time.
REMEDIES = {
    "lock store (Redis)": "the lock is already two asynchronous commands a turn "
    "(bot/chat/lock_store.py); what remains is Redis's round trip: keep the lock in the "
    "process for a conversation pinned to one replica (sticky routing)",
    "reading the conversation (tracker store)": "the kept trackers already cost one indexed "
    "query a turn; drop it where the lock store has already proven nobody else wrote "
    "(a version kept beside the lock)",
    "saving the conversation (tracker store)": "write the turn's events in one multi-row "
    "INSERT without the ORM's unit of work, and without the version query the read made",
    "understanding the message (NLU)": "a cheaper NLU pipeline per message (fewer "
    "featurizers, a smaller DIET) or a cache of the parses of frequent texts",
    "choosing the next action (policies)": "the states are already computed once per event "
    "(bot/chat/incremental_states.py); index RulePolicy's rules by their last state instead "
    "of trying all of them at every prediction",
    "running actions (incl. the call to the action server)": "less work per custom action: "
    "send the action server only what the actions read (the slots and the latest message) "
    "instead of the whole serialized tracker (the answer's check is already a kept "
    "validator, bot/chat/action_responses.py)",
    "conversation layer (identity, metadata)": "verify a token and build the turn's "
    "metadata once per conversation (cached by token) instead of once per message",
    "portal channel": "a thinner channel handler: parse and answer with the least work per request",
    OTHER_AREA: "a second Rasa process on the second core (production mode's replicas)",
}


def serve_profiled(out: str, argv: List[str]) -> None:
    """Run `python -m bot <argv>` while a thread samples every Python thread's stack.

    A small wall-clock sampler (py-spy is not installed here): every SAMPLE_EVERY seconds
    it records each thread's stack, and at exit writes {"frames", "samples": [[time,
    main thread?, [frame ids root to leaf]], ...]} to `out` for `profile_windows`.
    """
    import atexit
    import runpy

    codes: Dict[Any, int] = {}
    names: List[str] = []
    samples: List[Tuple[float, int, Tuple[int, ...]]] = []
    main = threading.main_thread().ident
    done = threading.Event()

    def frame_id(code: Any) -> int:
        if code not in codes:
            codes[code] = len(names)
            names.append(f"{_short(code.co_filename)}:{code.co_name}")
        return codes[code]

    def sample() -> None:
        me = threading.get_ident()
        while not done.wait(SAMPLE_EVERY):
            now = time.time()
            for ident, top in sys._current_frames().items():
                if ident == me:
                    continue
                stack = []
                frame: Optional[Any] = top
                while frame is not None:
                    stack.append(frame_id(frame.f_code))
                    frame = frame.f_back
                samples.append((now, int(ident == main), tuple(reversed(stack))))

    sampler = threading.Thread(target=sample, name="bench-stack-sampler", daemon=True)

    def write() -> None:
        done.set()
        sampler.join(timeout=5)
        Path(out).write_text(json.dumps({"frames": names, "samples": samples}))

    sampler.start()
    atexit.register(write)
    sys.argv = ["bot", *argv]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)


def _short(filename: str) -> str:
    for marker in ("site-packages/", f"{PROJECT_ROOT}/", "lib/python3.10/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def area_of(stack: Sequence[str]) -> str:
    """The part of a turn a sampled stack (root to leaf, "path:function") belongs to."""
    for tier in AREA_TIERS:
        for frame in stack:
            path, _, function = frame.rpartition(":")
            for prefix, functions, area in tier:
                if path.startswith(prefix) and (not functions or function in functions):
                    return area
    return OTHER_AREA


def profile_windows(
    profile: Dict[str, Any], idle: Tuple[float, float], windows: Sequence[Tuple[str, float, float]]
) -> List[ProfileWindow]:
    """Busy time by area and function in each (name, start, end) window.

    A main-thread sample is idle when its leaf frame is one of those that make up most
    of the `idle` window (no request in flight): the event loop waiting in its C code
    shows as the Python frame that called it.
    """
    frames: List[str] = profile["frames"]
    samples = [(t, main, [frames[i] for i in stack]) for t, main, stack in profile["samples"]]
    leaves = Counter(s[-1] for t, main, s in samples if main and idle[0] <= t <= idle[1] and s)
    total = sum(leaves.values())
    idle_leaves = {leaf for leaf, n in leaves.items() if n >= 0.05 * total}
    found = []
    for name, start, end in windows:
        inside = [(main, s) for t, main, s in samples if start <= t <= end and s]
        main_stacks = [s for main, s in inside if main]
        busy = [s for s in main_stacks if s[-1] not in idle_leaves]
        others = [s for main, s in inside if not main and not _waiting(s[-1])]
        count = max(1, len(busy))
        areas = Counter(area_of(s) for s in busy)
        inclusive = Counter(frame for s in busy for frame in set(s))
        own = Counter(s[-1] for s in busy)
        hotspots = {
            area: spot
            for area in areas
            if (spot := _hotspot([s for s in busy if area_of(s) == area])) is not None
        }
        found.append(
            ProfileWindow(
                name,
                end - start,
                len(main_stacks),
                len(busy),
                [(a, n / count) for a, n in areas.most_common()],
                [
                    (f, n / count)
                    for f, n in inclusive.most_common()
                    if n / count < 0.9 and f.startswith(("rasa/", "bot/", "actions/"))
                ][:15],
                [(f, n / count) for f, n in own.most_common(12)],
                len(others),
                hotspots,
            )
        )
    return found


def _hotspot(stacks: List[List[str]]) -> Optional[Tuple[str, float]]:
    """The project's or Rasa's function under most of `stacks` but not under nearly all."""
    through: Counter = Counter()
    depth: Dict[str, int] = {}
    for stack in stacks:
        for position, frame in enumerate(stack):
            if frame.startswith(("rasa/", "bot/", "actions/")) and frame not in stack[:position]:
                through[frame] += 1
                depth[frame] = max(depth.get(frame, 0), position)
    below = [(n, depth[f], f) for f, n in through.items() if n < 0.9 * len(stacks)]
    if not below:
        return None
    n, _, frame = max(below)
    return frame, n / len(stacks)


def _waiting(leaf: str) -> bool:
    """A thread parked in a wait (an idle pool worker, a timer) rather than working."""
    return leaf.rsplit(":", 1)[-1] in {"wait", "_worker", "select", "poll", "get", "sleep"}
