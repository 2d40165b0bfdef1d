"""Modules imported on first use: a warm `gradref grade` reads every answer from the cache and never
needs JAX, whose import is most of the command's start-up (0.9 s of about 1.3 s)."""

import importlib
import types


class LazyModule(types.ModuleType):
    """Stands for the module `name` and imports it at the first attribute read."""

    def __init__(self, name):
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self.__dict__["_lazy_target"]), attribute)
