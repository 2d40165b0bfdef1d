"""Mutation score of manual_grads/ against `gradref check`: `python -m bench.mutation.run` (an hour
on 2 cores; not in CI). Needs cosmic-ray (`pip install -e '.[mutation]'`).

cosmic-ray mutates one file at a time in place, so the run happens in throwaway clones of the
committed tree (one per --jobs, each given a share of the modules); the test command is
bench/mutation/probe.py. Survivors are matched against bench/mutation/equivalent.toml (each with the
reason it computes the same function); the score is killed / (all - equivalent). Writes
bench/mutation/results.json and prints every survivor.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODULES = (
    "norms.py",
    "conv.py",
    "sequence.py",
    "circuits.py",
    "optim.py",
    "losses.py",
    "layers.py",
    "_xp.py",
    "dropout.py",
    "nets.py",
)


def cosmic_ray(*args, cwd):
    bin_dir = os.path.dirname(sys.executable)
    return subprocess.run(
        [os.path.join(bin_dir, args[0]), *args[1:]], cwd=cwd, check=True, capture_output=True, text=True
    )


def prepare_clone(workdir, k, modules):
    clone = os.path.join(workdir, f"clone{k}")
    subprocess.run(["git", "clone", "--quiet", ROOT, clone], check=True)
    with open(os.path.join(HERE, "cosmic-ray.toml")) as handle:
        config = handle.read()
    excluded = ["manual_grads/__init__.py"] + [f"manual_grads/{m}" for m in MODULES if m not in modules]
    config = config.replace(
        'excluded-modules = ["manual_grads/__init__.py"]', f"excluded-modules = {json.dumps(excluded)}"
    )
    with open(os.path.join(clone, "session.toml"), "w") as handle:
        handle.write(config)
    cosmic_ray("cosmic-ray", "init", "session.toml", "session.sqlite", cwd=clone)
    cosmic_ray("cr-filter-operators", "session.sqlite", "session.toml", cwd=clone)
    return clone


def outcomes(clone):
    """One record per mutant of a finished session."""
    dump = cosmic_ray("cosmic-ray", "dump", "session.sqlite", cwd=clone).stdout
    for line in dump.splitlines():
        job, result = json.loads(line)
        if not result or result.get("worker_outcome") == "skipped":
            continue
        (mutation,) = job["mutations"]
        killed = result.get("worker_outcome") != "normal" or result.get("test_outcome") == "killed"
        yield {
            "file": mutation["module_path"],
            "line": mutation["start_pos"][0],
            "operator": mutation["operator_name"].removeprefix("core/"),
            "occurrence": mutation["occurrence"],
            "killed": killed,
            "outcome": result.get("test_outcome") or result.get("worker_outcome"),
            "diff": result.get("diff", ""),
            "output": (result.get("output") or "")[-400:],
        }


def equivalent_list():
    with open(os.path.join(HERE, "equivalent.toml"), "rb") as handle:
        return tomllib.load(handle).get("mutant", [])


def mutated_code(mutant):
    """The line a mutant changed, as it was (from its diff), stripped; "" if the diff is missing."""
    removed = (line[1:] for line in mutant.get("diff", "").splitlines() if line.startswith("-") and line[:3] != "---")
    return next(removed, "").strip()


def is_listed(mutant, listed):
    """The entry of the equivalent list this mutant is, by file, operator and the code of its line
    (line numbers move whenever the file is edited); by line and occurrence for an entry without code."""
    code = mutated_code(mutant)

    def same(entry):
        if entry["file"] != mutant["file"] or entry["operator"] != mutant["operator"]:
            return False
        if "code" in entry:
            return entry["code"] == code
        return entry["line"] == mutant["line"] and entry.get("occurrence", mutant["occurrence"]) == mutant["occurrence"]

    return next((entry for entry in listed if same(entry)), None)


def recheck(survivors, workdir, jobs):
    """Apply each earlier survivor to clones of the tree as it is now and run the probe again."""
    import concurrent.futures

    def run_share(k):
        clone = os.path.join(workdir, f"recheck{k}")
        subprocess.run(["git", "clone", "--quiet", ROOT, clone], check=True)
        for mutant in survivors[k::jobs]:
            cosmic_ray(
                "cosmic-ray",
                "apply",
                mutant["file"],
                "core/" + mutant["operator"],
                str(mutant["occurrence"]),
                cwd=clone,
            )
            probe = subprocess.run(
                [sys.executable, "-m", "bench.mutation.probe"], cwd=clone, capture_output=True, text=True, timeout=900
            )
            subprocess.run(["git", "checkout", "--quiet", "--", "manual_grads"], cwd=clone, check=True)
            yield {
                **mutant,
                "killed": probe.returncode != 0,
                "outcome": "killed" if probe.returncode else "survived",
                "output": probe.stdout[-400:],
            }

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        return [m for share in pool.map(lambda k: list(run_share(k)), range(jobs)) for m in share]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.mutation.run", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="clones mutated and checked at once (default 2)")
    parser.add_argument("--json", default=os.path.join(HERE, "results.json"), help="where the results go")
    parser.add_argument(
        "--recheck",
        metavar="RESULTS.json",
        help="only re-run the survivors of an earlier run against the tree as it is now "
        "(after adding the samples or checks that should kill them)",
    )
    parser.add_argument(
        "--modules",
        nargs="+",
        metavar="FILE.py",
        choices=MODULES,
        help="mutate only these modules of manual_grads/ (default: all)",
    )
    args = parser.parse_args(argv)
    if args.recheck:
        with open(args.recheck) as handle:
            earlier = json.load(handle)
        with tempfile.TemporaryDirectory(prefix="gradref-mutation-") as workdir:
            rechecked = recheck(earlier["survivors"] + earlier["equivalent"], workdir, args.jobs)
        killed_now = sum(m["killed"] for m in rechecked)
        mutants = [{"killed": True}] * (earlier["summary"]["killed"] + killed_now) + [
            m for m in rechecked if not m["killed"]
        ]
        return report(mutants, args.json)
    modules = tuple(args.modules or MODULES)
    shares = [share for share in (modules[k :: args.jobs] for k in range(args.jobs)) if share]
    with tempfile.TemporaryDirectory(prefix="gradref-mutation-") as workdir:
        clones = [prepare_clone(workdir, k, share) for k, share in enumerate(shares)]
        running = [
            subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), "cosmic-ray"), "exec", "session.toml", "session.sqlite"],
                cwd=clone,
                env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")},
            )
            for clone in clones
        ]
        for proc in running:
            proc.wait()
        mutants = [m for clone in clones for m in outcomes(clone)]
    return report(mutants, args.json)


def report(mutants, path):
    """Score the run against the list of equivalent mutants; write the JSON and print the survivors."""
    listed = equivalent_list()
    survivors = [m for m in mutants if not m["killed"]]
    equivalent = [dict(m, why=is_listed(m, listed)["why"]) for m in survivors if is_listed(m, listed)]
    unexplained = [m for m in survivors if not is_listed(m, listed)]
    killed = len(mutants) - len(survivors)
    score = killed / max(1, len(mutants) - len(equivalent))
    summary = {
        "mutants": len(mutants),
        "killed": killed,
        "equivalent": len(equivalent),
        "survived_not_equivalent": len(unexplained),
        "score": score,
    }
    with open(path, "w") as handle:
        json.dump({"summary": summary, "equivalent": equivalent, "survivors": unexplained}, handle, indent=2)
    print(json.dumps(summary))
    for m in unexplained:
        print(f"SURVIVED {m['file']}:{m['line']} {m['operator']} #{m['occurrence']}\n{m['diff']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
