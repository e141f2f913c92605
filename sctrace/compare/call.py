"""Call: a socket call on its way to becoming a Step, the value the semantic rules rewrite."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# A place inside a call's arguments: ("addrlen", "in"), ("msg", "iov", 0, "len").
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Call:
    """A socket call on its way to becoming a Step: the values the semantic rules rewrite.

    ``args`` are already stable-normalized (roles, PORTn).  ``ignored`` lists
    argument places left out of the comparison key but still shown (a buffer
    size); ``notes`` say what a rule tolerated, ``rules`` which rules changed
    the call.  ``stream`` says the descriptor is a stream socket (bytes without
    message boundaries); ``span`` is how many traced calls this one stands for.
    """

    name: str
    args: dict[str, Any]
    ret: Any = 0
    errno: str | None = None
    ignored: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()
    informational: bool = False
    rules: tuple[str, ...] = ()
    stream: bool = False
    span: int = 1

    def key_args(self) -> dict[str, Any]:
        """args without the ignored places: what the comparison key is built from."""
        out = self.args
        for place in self.ignored:
            out = _without(out, place)
        return out


def new_call(name: str, args: dict[str, Any], ret: Any, errno: str | None, stream: bool) -> Call:
    """Call(name, args, ret, errno, stream=stream), made the fast way (one for every socket call of a trace).

    A frozen dataclass's __init__ sets each field through object.__setattr__;
    a Call has no __post_init__ and no init-only fields, so filling in its
    __dict__ (in field order, which keeps it as small as __init__'s) makes the
    same value in a quarter of the time.
    """
    out = _new(Call)
    values = out.__dict__
    values["name"] = name
    values["args"] = args
    values["ret"] = ret
    values["errno"] = errno
    values["ignored"] = values["notes"] = ()
    values["informational"] = False
    values["rules"] = ()
    values["stream"] = stream
    values["span"] = 1
    return out


def changed(call: Call, **changes: Any) -> Call:
    """dataclasses.replace(call, **changes), made the way new_call makes a Call."""
    if not _FIELDS.issuperset(changes):
        raise TypeError(f"Call has no field {', '.join(sorted(set(changes) - _FIELDS))}")
    out = _new(Call)
    values = out.__dict__
    values.update(call.__dict__)
    values.update(changes)
    return out


_new = object.__new__
_FIELDS = frozenset(f.name for f in fields(Call))


def _without(value: Any, place: Path) -> Any:
    """value without the item at place, copying only the containers on the way there."""
    head, rest = place[0], place[1:]
    if isinstance(value, dict) and head in value:
        return {**value, head: _without(value[head], rest)} if rest else {k: v for k, v in value.items() if k != head}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value) and rest:
        return [*value[:head], _without(value[head], rest), *value[head + 1:]]
    return value
