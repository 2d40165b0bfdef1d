"""The oracle's on-disk cache: hits, misses when anything an answer depends on changes, atomic and
concurrent writes, unreadable entries recomputed, --no-cache, gradref cache info|clear."""

import collections
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conformance import cache, checks, registry
from gradref.cli import main
from reference import functions as ref
from reference import oracle


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADREF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADREF_NO_CACHE", raising=False)
    return tmp_path / "cache"


def counting_oracle(monkeypatch):
    calls = []
    real = oracle.vjp

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(oracle, "vjp", counted)
    return calls


X = np.random.default_rng(0).standard_normal((3, 4))


def answer(reference=ref.tanh, x=X, label="normal a"):
    return cache.vjp(reference, [x], [0], lambda shape: np.ones(shape), label)


def test_an_answer_is_computed_once_and_read_back_equal(cache_dir, monkeypatch):
    calls = counting_oracle(monkeypatch)
    first, second = answer(), answer()
    assert len(calls) == 1 and cache.info()["entries"] == 1
    for a, b in zip((first[0], *first[1], first[2]), (second[0], *second[1], second[2])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("change", ["values", "dtype", "cotangent", "reference", "jax version"])
def test_anything_the_answer_depends_on_misses_the_cache(cache_dir, monkeypatch, change):
    answer()
    calls = counting_oracle(monkeypatch)
    if change == "values":
        answer(x=X + 1e-12)
    elif change == "dtype":
        answer(x=X.astype(np.float32))
    elif change == "cotangent":
        answer(label="normal b")
    elif change == "reference":
        answer(reference=ref.sigmoid)
    else:
        cache._versions.cache_clear()
        monkeypatch.setattr(cache, "_versions", lambda: ("9.9", "9.9", "9.9"))
        answer()
    assert len(calls) == 1


def test_a_changed_reference_source_misses_the_cache(cache_dir, monkeypatch):
    before = cache.key(ref.tanh, [X], [0], "l", "cpu")
    cache._source_digest.cache_clear()
    monkeypatch.setattr(cache.inspect, "getsource", lambda module: "def tanh(x): return x  # edited")
    try:
        assert cache.key(ref.tanh, [X], [0], "l", "cpu") != before
    finally:
        cache._source_digest.cache_clear()


def test_an_unreadable_entry_is_recomputed(cache_dir, monkeypatch):
    answer()
    (entry,) = [os.path.join(d, f) for d, _, files in os.walk(cache_dir) for f in files if f.endswith(".npz")]
    with open(entry, "wb") as handle:
        handle.write(b"not an npz")
    calls = counting_oracle(monkeypatch)
    out, grads, _ = answer()
    assert len(calls) == 1 and np.allclose(grads[0], 1 - np.tanh(X) ** 2)


def test_no_cache_computes_afresh_and_writes_nothing(cache_dir, monkeypatch):
    monkeypatch.setenv("GRADREF_NO_CACHE", "1")
    calls = counting_oracle(monkeypatch)
    answer()
    answer()
    assert len(calls) == 2 and not cache_dir.exists()


WRITER = """
import sys, numpy as np
from conformance import cache
from reference import functions as ref
x = np.random.default_rng(0).standard_normal((64, 64))
for _ in range(20):
    out, grads, dout = cache.vjp(ref.tanh, [x], [0], lambda s: np.ones(s), "normal race")
    assert np.allclose(grads[0], 1 - np.tanh(x) ** 2)
"""


def test_concurrent_writers_never_leave_a_torn_entry(cache_dir):
    env = {**os.environ, "GRADREF_CACHE_DIR": str(cache_dir)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER], env=env) for _ in range(3)]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    files = [f for _, _, names in os.walk(cache_dir) for f in names]
    assert [f for f in files if f.endswith(".npz")] and not [f for f in files if f.startswith(".tmp-")]


def test_check_reads_the_cache_on_a_second_run_and_cache_clear_empties_it(cache_dir, monkeypatch, capsys):
    assert main(["check", "--op", "relu", "--dtype", "float64"]) == 0
    checks.clear_caches()  # drop the in-process caches
    calls = counting_oracle(monkeypatch)
    assert main(["check", "--op", "relu", "--dtype", "float64"]) == 0
    assert calls == []
    capsys.readouterr()
    assert main(["cache", "info", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] > 0
    assert main(["cache", "clear", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] > 0 and cache.info()["entries"] == 0


def test_the_grader_shares_the_cache(cache_dir, monkeypatch):
    from gradref.grade.judging import answers

    answers.oracle_answers.cache_clear()
    op = registry.REGISTRY["relu"]
    first = answers.oracle_answers("relu", op.samples[0].name)
    answers.oracle_answers.cache_clear()
    calls = counting_oracle(monkeypatch)
    second = answers.oracle_answers("relu", op.samples[0].name)
    assert calls == [] and np.array_equal(first[2][0], second[2][0])
    answers.oracle_answers.cache_clear()


@pytest.mark.parametrize("mode", [0o700, 0o777])
def test_a_planted_answer_is_never_read_from_a_folder_others_can_write(cache_dir, mode):
    cache_dir.mkdir()
    os.chmod(cache_dir, mode)
    digest = cache.key(ref.tanh, [X], [0], "normal a", "cpu")
    wrong = np.zeros_like(X)
    cache.store(digest, np.tanh(X), (wrong,), np.ones_like(X))  # as a classmate on a shared folder could
    if mode == 0o700:
        _, grads, _ = answer()
        np.testing.assert_array_equal(grads[0], wrong)  # the planted entry is what a hit reads
    else:
        with pytest.warns(RuntimeWarning, match="not yours alone to write"):
            _, grads, _ = answer()
        np.testing.assert_allclose(grads[0], 1 - np.tanh(X) ** 2)


def test_a_new_cache_folder_is_private(cache_dir):
    answer()
    assert os.stat(cache_dir).st_mode & 0o077 == 0


def scaled_sin(scale):
    def reference(x):
        return jnp.sin(x) * scale

    return reference


def times(w):
    def reference(x):
        return x * w

    return reference


@pytest.mark.parametrize(
    "make, first, second, want",
    [
        (scaled_sin, 2.0, 3.0, lambda: 3.0 * np.cos(X)),
        (times, np.full(X.shape, 2.0), np.full(X.shape, 3.0), lambda: np.full(X.shape, 3.0)),
    ],
)
def test_a_users_reference_is_keyed_by_what_it_computes_not_by_its_source(cache_dir, make, first, second, want):
    """Same module, same source, same name: only the closure's value differs."""
    answer(reference=make(first))
    _, grads, _ = answer(reference=make(second))
    np.testing.assert_allclose(grads[0], want())


def test_a_users_reference_is_still_cached(cache_dir, monkeypatch):
    reference = scaled_sin(2.0)
    calls = counting_oracle(monkeypatch)
    answer(reference=reference)
    answer(reference=scaled_sin(2.0))
    assert len(calls) == 1


def custom_sin(scale):
    @jax.custom_vjp
    def reference(x):
        return jnp.sin(x)

    reference.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (g * jnp.cos(x) * scale,))
    return reference


def test_a_users_custom_rule_is_part_of_the_key(cache_dir):
    answer(reference=custom_sin(1.0))
    _, grads, _ = answer(reference=custom_sin(2.0))
    np.testing.assert_allclose(grads[0], 2.0 * np.cos(X))


def test_a_group_writable_folder_is_trusted_only_when_the_group_is_the_users_own(cache_dir, monkeypatch):
    import grp
    import pwd

    cache_dir.mkdir()
    os.chmod(cache_dir, 0o770)
    me = pwd.getpwuid(os.geteuid()).pw_name
    monkeypatch.setattr(grp, "getgrgid", lambda gid: grp.struct_group((me, "x", gid, [])))
    assert cache.trusted(str(cache_dir))  # a user private group (umask 002)
    cache.trusted.cache_clear()
    monkeypatch.setattr(grp, "getgrgid", lambda gid: grp.struct_group(("students", "x", gid, [me, "bob"])))
    with pytest.warns(RuntimeWarning, match="not yours alone"):
        assert not cache.trusted(str(cache_dir))


def test_warnings_turned_into_errors_do_not_stop_a_run_over_an_untrusted_folder(cache_dir):
    import warnings

    cache_dir.mkdir()
    os.chmod(cache_dir, 0o777)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, grads, _ = answer()
    np.testing.assert_allclose(grads[0], 1 - np.tanh(X) ** 2)


def test_an_entry_read_twice_comes_from_memory_after_that_until_its_file_changes(cache_dir, monkeypatch):
    answer()  # computed and stored
    digest = next(name[:-4] for _, _, files in os.walk(cache.folder()) for name in files if name.endswith(".npz"))
    reads = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: reads.append(a) or real_load(*a, **k))
    first, second = cache.load(digest), cache.load(digest)  # a check reads each entry once: both from disk
    assert len(reads) == 2 and second[0] is not first[0]
    third = cache.load(digest)
    assert len(reads) == 2 and third[0] is second[0]
    with pytest.raises(ValueError):
        third[0][...] = 0  # handed out to every later reader: nobody may change it
    # The file replaced (as store does: another file renamed into place): read anew.
    cache.store(digest, np.float64(7.0), [np.float64(8.0)], np.zeros(0))
    replaced = cache.load(digest)
    assert len(reads) == 3 and float(replaced[0]) == 7.0


def test_the_entries_kept_in_memory_stay_under_their_byte_budget(cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "MEMO_BYTES", 3000)
    monkeypatch.setattr(cache, "_memo", collections.OrderedDict())
    monkeypatch.setattr(cache, "_memo_bytes", [0])
    monkeypatch.setattr(cache, "_read_once", set())
    for i in range(5):
        cache.store(f"{i:02d}memo", np.zeros(100), [np.zeros(10)], np.zeros(0))  # 880 bytes each
        assert cache.load(f"{i:02d}memo") is not None and cache.load(f"{i:02d}memo") is not None
    assert cache._memo_bytes[0] <= 3000 and len(cache._memo) == 3
    assert [key[0] for key in cache._memo] == [cache._path(f"{i:02d}memo") for i in (2, 3, 4)]
