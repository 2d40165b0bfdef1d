"""The ways in: the `gradref grade` / `autograder` / `assignments` commands, a batch of submissions
(batch), the reports it writes (reports) and the platforms' autograder bundles (platforms).

May import every other room, and gradref's report pages (htmlreport, junit, report).
"""
