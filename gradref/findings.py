"""What a report entry's `mistakes` say: the catalogue's mistakes it names, apart from the kinds of
finding that only describe what is wrong (where, which entries, which line)."""

# Kinds of finding that describe a failure without naming a mistake the catalogue lists.
DESCRIPTIONS = frozenset({"generic", "located", "local_gradient", "only_one_wrong", "first_wrong_value"})


def named_mistakes(result):
    """The catalogue mistakes a report entry names, in order, each once."""
    return [k for k in dict.fromkeys(result.get("mistakes", [])) if k not in DESCRIPTIONS]


# Catalogue mistakes whose values come from a constant fitted to the student's own (an svm margin of
# 3.2 instead of 1): one name, but each constant a mistake of its own, not one many students make alike.
FITTED = frozenset({"margin_not_one"})
