"""JUnit XML for any CI system: `gradref check --junit` and `gradref grade --junit`."""

import xml.etree.ElementTree as ET

from .text import clean


def _suite(name, cases):
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c[2] == "failure")),
        errors=str(sum(1 for c in cases if c[2] == "error")),
        skipped=str(sum(1 for c in cases if c[2] == "skipped")),
    )
    for classname, case_name, outcome, message in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=case_name)
        if outcome != "passed":
            child = ET.SubElement(case, outcome, message=clean(message, 500)[:500])
            child.text = clean(message, 20000)
    return suite


def _document(suites):
    root = ET.Element("testsuites")
    root.extend(suites)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def from_check(rows):
    """One test case per op x dtype x device row of `gradref check`."""
    cases = [
        (
            f"gradref.check.{row['op']}",
            f"{row['op']}[{row['dtype']},{row['device']}]",
            "passed" if row["status"] == "pass" else "failure",
            "; ".join(row["failures"]),
        )
        for row in rows
    ]
    return _document([_suite("gradref check", cases)])


def from_grade(report):
    """One test case per check of each graded function; missing required functions fail."""
    cases = []
    for entry in report["results"]:
        classname = f"gradref.grade.{entry['name']}"
        if entry["status"] == "missing":
            outcome = "failure" if entry.get("max_points") else "skipped"
            cases.append((classname, entry["name"], outcome, entry["message"]))
            continue
        for check in entry["checks"]:
            cases.append(
                (
                    classname,
                    check["name"],
                    "passed" if check["passed"] else ("error" if check["name"].startswith("runs") else "failure"),
                    check["detail"],
                )
            )
    return _document([_suite(f"gradref grade {clean(report['submission'])}", cases)])
