"""Assignment specs and scores.

A spec is a small TOML file: the functions (or classes) of an assignment with their points, which are
required, which are hidden until the grades are published, and the conventions in force. Built-in
specs live in specs/*.toml. Scores: a function that passes gets its points; one that fails or
errs gets the share of its samples on which every check passed (a backward right in 2-D and wrong for
k-dim x gets most of its points); a missing or unfinished one gets 0. max_score is the points of the
required functions plus those of the optional ones the submission defines.
"""

import dataclasses
import difflib
import os
import sys
from dataclasses import dataclass, field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..explain import feedback
from .targets import ALL_NAMES, CS231N, EECS498, LAYERS

# Named near-misses, which an assignment may give a share of a function's points (else it earns 0):
SHAPE_ONLY = "shape_only"  # the right values in the wrong shape
WARNINGS_ONLY = "warnings_only"  # fails only through a warning made a failure (strict)
KDIM_ONLY = "kdim_only"  # right on every 2-D sample, wrong only for k-dimensional x
NEAR_MISSES = (SHAPE_ONLY, WARNINGS_ONLY, KDIM_ONLY)

BUILTIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "specs")
SETTINGS = {"strict": bool, "dropout_p": str, "allow_numerical_gradient": bool, "allow_fast_layers": bool}


class SpecError(ValueError):
    """A spec that cannot be used (one sentence)."""


@dataclass(frozen=True)
class Item:
    name: str
    points: float = 1.0
    required: bool = True
    hidden: bool = False  # its result is shown only after the grades are published


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    convention: str
    items: tuple
    settings: dict = field(default_factory=dict)
    path: str = ""
    near_miss: dict = field(default_factory=dict)  # near-miss kind -> share of the points it earns
    feedback: dict = field(default_factory=dict)  # the [feedback] ladder (feedback.py)

    @property
    def hidden(self):
        return tuple(i.name for i in self.items if i.hidden)

    @property
    def required(self):
        return tuple(i.name for i in self.items if i.required)

    def item(self, name):
        return next((i for i in self.items if i.name == name), None)


def builtin_names():
    return sorted(f[:-5] for f in os.listdir(BUILTIN) if f.endswith(".toml"))


def load(name_or_path):
    """A built-in spec by name, or a spec file; SpecError says what is wrong."""
    path = (
        name_or_path
        if name_or_path.endswith(".toml") or os.sep in name_or_path
        else os.path.join(BUILTIN, f"{name_or_path}.toml")
    )
    if not os.path.isfile(path):
        close = difflib.get_close_matches(name_or_path, builtin_names(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f"; built in: {', '.join(builtin_names())}"
        raise SpecError(f"no assignment {name_or_path!r}{hint}")
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path} is not a readable TOML file ({error})") from None
    return parse(data, path)


def parse(data, path=""):
    where = path or "the spec"
    convention = data.get("convention", CS231N)
    if convention not in (CS231N, LAYERS, EECS498):
        raise SpecError(f"{where}: convention must be {CS231N!r}, {LAYERS!r} or {EECS498!r}, not {convention!r}")
    items = []
    for raw in data.get("functions", []):
        if not isinstance(raw, dict) or "name" not in raw:
            raise SpecError(f"{where}: every entry of functions needs a name")
        if raw["name"] not in ALL_NAMES:
            close = difflib.get_close_matches(raw["name"], ALL_NAMES, n=1)
            raise SpecError(
                f"{where}: {raw['name']!r} is not a gradable name" + (f" (did you mean {close[0]}?)" if close else "")
            )
        points = raw.get("points", 1)
        if not isinstance(points, (int, float)) or points < 0 or points != points:
            raise SpecError(f"{where}: points of {raw['name']} must be a number of at least 0")
        items.append(Item(raw["name"], float(points), bool(raw.get("required", True)), bool(raw.get("hidden", False))))
    if not items:
        raise SpecError(f"{where}: it names no functions")
    settings = data.get("settings", {})
    for key, value in settings.items():
        if key not in SETTINGS or not isinstance(value, SETTINGS[key]):
            raise SpecError(f"{where}: unknown or mistyped setting {key!r} (known: {', '.join(SETTINGS)})")
    if settings.get("dropout_p", "keep") not in ("keep", "drop"):
        raise SpecError(f"{where}: dropout_p must be 'keep' or 'drop'")
    shares = data.get("near_miss", {})
    for key, value in shares.items() if isinstance(shares, dict) else [("near_miss", shares)]:
        if key not in NEAR_MISSES or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise SpecError(
                f"{where}: [near_miss] gives a near-miss ({', '.join(NEAR_MISSES)}) a share of the points "
                f"between 0 and 1, not {key} = {value!r}"
            )
    try:
        ladder = feedback.check(_feedback_table(data.get("feedback", {})), where)
    except ValueError as error:
        raise SpecError(str(error)) from None
    return Spec(
        data.get("name", os.path.splitext(os.path.basename(path))[0]),
        data.get("title", ""),
        convention,
        tuple(items),
        dict(settings),
        path,
        {key: float(value) for key, value in shares.items()},
        ladder,
    )


def _feedback_table(value):
    """`feedback = "hint"` is short for a [feedback] table with that level alone."""
    if isinstance(value, str):
        return {"level": value}
    return value if isinstance(value, dict) else {"feedback": value}


def apply(spec, options):
    """Options with the spec's conventions, required functions and settings (the command line's
    --strict and --require add to it)."""
    return dataclasses.replace(
        options,
        convention=spec.convention,
        framework="torch" if spec.convention == EECS498 else options.framework,
        require=tuple(dict.fromkeys(options.require + spec.required)),
        strict=options.strict or spec.settings.get("strict", False),
        dropout_p=spec.settings.get("dropout_p", options.dropout_p),
        allow_numerical_gradient=spec.settings.get("allow_numerical_gradient", options.allow_numerical_gradient),
        allow_fast_layers=spec.settings.get("allow_fast_layers", options.allow_fast_layers),
    )


def score(report, spec):
    """Add points to each result and score / max_score to the report (in place); returns the report."""
    total = maximum = 0.0
    for result in report["results"]:
        item = spec.item(result["name"]) if spec else Item(result["name"])
        if item is None:
            result["points"], result["max_points"] = 0.0, 0.0
            continue
        if result["status"] == "pass":
            earned = item.points
        else:  # all or nothing, but for a near-miss the assignment gives a share
            share = spec.near_miss.get(result.get("near_miss", "")) if spec else None
            earned = round(item.points * share, 4) if share else 0.0
        counts = item.required or result["status"] != "missing"
        result["points"], result["max_points"], result["hidden"] = earned, item.points if counts else 0.0, item.hidden
        total += earned
        maximum += result["max_points"]
    if spec:
        listed = {r["name"] for r in report["results"]}
        for item in spec.items:  # required functions the report did not list still count
            if item.required and item.name not in listed:
                report["results"].append(
                    {
                        "name": item.name,
                        "status": "missing",
                        "message": "not defined",
                        "checks": [],
                        "points": 0.0,
                        "max_points": item.points,
                        "hidden": item.hidden,
                    }
                )
                maximum += item.points
        report["assignment"] = spec.name
    report["score"], report["max_score"] = round(total, 4), round(maximum, 4)
    return report
