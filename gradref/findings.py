"""What a report entry's `mistakes` say: the catalogue's mistakes it names, apart from the kinds of
finding that only describe what is wrong (where, which entries, which line)."""

# Kinds of finding that describe a failure without naming a mistake the catalogue lists.
DESCRIPTIONS = frozenset({"generic", "located", "local_gradient", "only_one_wrong", "first_wrong_value"})


def named_mistakes(result):
    """The catalogue mistakes a report entry names, in order, each once."""
    return [k for k in dict.fromkeys(result.get("mistakes", [])) if k not in DESCRIPTIONS]
