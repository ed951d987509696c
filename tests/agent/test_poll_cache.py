"""The poll cache's rules: what it serves, and when it must read the database again."""
from __future__ import annotations

from vectorflow.services.poll_cache import PollCache, _Changes


def cache(live: list[bool] | None = None, max_age: float = 300) -> PollCache:
    live = live if live is not None else [True]
    return PollCache(max_age, lambda: live[0])


def test_an_entry_is_served_until_a_change_to_its_node_environment_or_everything():
    for change in (_Changes(node_ids={"n1"}), _Changes(environment_ids={"e1"}),
                   _Changes(everything=True)):
        polls = cache()
        polls.put("digest", "answer", "n1", "e1", polls.mark())
        polls.put("other", "other answer", "n2", "e2", polls.mark())
        assert polls.get("digest") == "answer"
        polls.changed(change)
        assert polls.get("digest") is None
        assert polls.get("other") == (None if change.everything else "other answer")


def test_an_answer_read_while_a_change_committed_is_not_kept():
    polls = cache()
    mark = polls.mark()                       # the poll begins its read...
    polls.changed(_Changes(node_ids={"n1"}))  # ...a change commits meanwhile...
    polls.put("digest", "old answer", "n1", "e1", mark)  # ...the read may be from before it
    assert polls.get("digest") is None
    polls.put("digest", "new answer", "n1", "e1", polls.mark())
    assert polls.get("digest") == "new answer"


def test_nothing_is_served_or_kept_while_the_live_feed_is_down():
    live = [True]
    polls = cache(live)
    polls.put("digest", "answer", "n1", "e1", polls.mark())
    live[0] = False
    assert polls.get("digest") is None
    polls.put("digest", "answer", "n1", "e1", polls.mark())
    live[0] = True
    assert polls.get("digest") is None  # not kept while down: changes may have been missed


def test_an_entry_is_read_again_after_its_maximum_age_and_never_with_the_cache_off():
    polls = cache(max_age=0.0)
    assert not polls.enabled
    polls.put("digest", "answer", "n1", "e1", polls.mark())
    assert polls.get("digest") is None


def test_this_processes_own_event_brought_by_the_feed_drops_nothing_read_after_its_commit():
    class Event:
        def __init__(self, id, payload):
            self.id, self.type, self.payload = id, "agent.config_changed", payload

    polls = cache()
    polls.committed(7, _Changes(node_ids={"n1"}))
    polls.put("digest", "fresh", "n1", "e1", polls.mark())
    polls.on_events([Event(7, {"nodeIds": ["n1"]})])
    assert polls.get("digest") == "fresh"
    polls.on_events([Event(8, {"nodeIds": ["n1"]})])  # another process's change
    assert polls.get("digest") is None
