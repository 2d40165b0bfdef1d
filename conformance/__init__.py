"""The conformance suite: the registry, the checks, and the `gradref` command line."""
