"""The grader/worker protocol: the one place its message keys are defined.

Standalone (the standard library only): the worker loads this file by its path inside the sandbox,
before any student code runs, and gradref's grader imports it as a module.

The grader writes one JSON request per line to the worker's stdin; the worker answers each with one
JSON reply per line on a private copy of its stdout. Arrays never travel in JSON: the grader writes
each argument as an .npy file into the read-only inputs folder and names it in an argument spec; the
worker saves each result as an .npy file in its own results folder and names it in the reply. The
grader chooses nothing from a reply but which of the files it named to open (see sandbox.py).

1. On start the worker imports the submission and says hello: {OK, NAMES, REFUSED, MISSING} or
   {OK: false, STAGE, ERROR}.
2. Request: {KIND: FUNCTION, FIRST, ARGS, OUTPUTS_COUNT, BACKWARD, DOUT, LOSS, UPDATE, PREFIX}
   (TRACE added: the named function's array locals come back too, line by line: RESULTS[TRACED])
   or {KIND: FUNCTION, BACKWARD, CACHE, DOUT, PREFIX} (a backward alone, handed the course's cache)
   or {KIND: CLASS, CLS, INIT, ARGS, GRAD_ATTRS, BACKWARD, DOUT, PREFIX}
   or {KIND: MODEL, CLS, CHOICES, PARAMS, ARGS, LOSS_CHOICES, GRAD_KEYS, PREFIX} (a model class:
   built, its params set, loss(*ARGS) -> (loss, grads)).
3. Reply: {OK: true, RESULTS: {OUT, GRADS, STATE, ARGS_MID, ARGS_AFTER, DOUT_AFTER}} or
   {OK: false, STAGE, ERROR, TODO (a starter stub), RESULTS (what was saved before it failed)}.
4. While it runs, the worker keeps the current stage in the file STAGE_FILE, so that the grader knows
   where a process that died (a crash, a limit, a timeout) was.
"""

# ----- request: grader -> worker -----
KIND = "kind"  # FUNCTION, CLASS, MODEL or MODULE
FUNCTION, CLASS, MODEL, MODULE = "function", "class", "model", "module"
FIRST = "first"  # the function called first: a forward, a loss or an update rule
OUTPUTS_COUNT = "n_outputs"  # k > 1: the forward returns k outputs and a cache
BACKWARD = "backward"  # FUNCTION: the backward's name; CLASS: whether to call backward
DOUT = "dout"  # the upstream gradient's argument spec (None: backward() without it)
LOSS = "loss"  # FIRST returns (loss, grads)
UPDATE = "update"  # FIRST returns (next_w, config)
ARGS = "args"  # argument specs, in order
CLS = "cls"  # CLASS: the class's name
INIT = "init"  # CLASS: the constructor's argument specs
GRAD_ATTRS = "grad_attrs"  # CLASS: attributes read after backward
PREFIX = "prefix"  # what the worker's result files start with
CACHE = "cache"  # FUNCTION: the cache's spec; the backward is called with it and its forward is not called
CHOICES = "choices"  # MODEL: constructor arguments, [[names, spec]]: the first name its signature takes
PARAMS = "params"  # MODEL: {key: spec} set into model.params before loss is called
LOSS_CHOICES = "loss_choices"  # MODEL: keyword arguments of loss(), as CHOICES (reg, in some editions)
GRAD_KEYS = "grad_keys"  # MODEL: the keys of grads to send back, in order
SCORES = "scores"  # MODEL: call loss(X) without labels; its scores come back as OUT
PLAIN = "plain"  # FUNCTION: FIRST returns its output alone, or a tuple of outputs, and no cache
METHOD = "method"  # MODULE: the method of the built object called (CLS, CHOICES, PARAMS as for MODEL)
TRACE = "trace"  # FUNCTION: {TRACE_NAME, TRACE_SKIP}: record that function's array locals line by line
TRACE_NAME = "name"  # ... the function (FIRST or BACKWARD) whose frame is recorded
TRACE_SKIP = "skip"  # ... its lines inside loops: values are recorded once the loop is left

# ----- argument and result specs -----
FILE = "file"  # an .npy file's name
DICT = "dict"  # a parameter dict: {key: spec}
VALUE = "value"  # a plain JSON value
TUPLE = "tuple"  # a tuple of specs (a cache)
DTYPE_OF = "dtype_of"  # a dtype by name ("float64"): np.float64, or torch.float64 in a torch submission
DEVICE_OF = "device_of"  # the device a torch submission's tensors are on ("cpu" for NumPy)
TYPE = "type"  # a result's Python type, "module.qualname"
DEVICE = "device"  # a torch result's device type, "cpu" or "cuda"

# ----- reply: worker -> grader -----
OK = "ok"
NAMES = "names"  # hello: the public names the submission defines
REFUSED = "refused"  # hello: the libraries it imported that a submission may not use (stand-ins that refuse)
MISSING = "missing"  # hello: the course-environment packages it imported that are not here (stand-ins)
STAGE = "stage"  # where it failed: "import", a function's or method's name
ERROR = "error"  # what went wrong, one line
TODO = "todo"  # the failure is a starter stub (returns None, NotImplementedError)
RESULTS = "outputs"  # the result specs below
OUT = "out"  # the forward's output (the loss, next_w)
MORE = "more"  # PLAIN: the outputs after the first (dot_product_attention's weights)
GRADS = "grads"  # the gradients, in order (None where a gradient is None)
GRAD_NAMES = "grad_names"  # MODEL: the string keys the returned grads dict holds (hostile: checked before use)
INIT_KEYS = "init_keys"  # MODEL: the string keys model.params held right after __init__ (hostile, likewise)
STATE = "state"  # an update rule's returned config
ARGS_MID = "args_mid"  # the arguments after the forward
ARGS_AFTER = "args_after"  # the arguments after the call(s)
DOUT_AFTER = "dout_after"  # dout after the backward
CALLS = "calls"  # how often Python functions were called in the backward (a loss: in the call)
CALLS_OWN_FORWARD = "forward"  # ... the function's own forward (or the class's forward method)
CALLS_MOST = "most"  # ... the function called most often, and its name
CALLS_MOST_NAME = "most_name"
CALLS_INTACT = "intact"  # false: the submission switched the counting off
TRACED = "traced"  # TRACE: [{LINE_FROM, LINE_TO, NAME, FILE}] the values each stretch of lines left in a local
LINE_FROM = "from"  # ... the line the stretch began at
LINE_TO = "to"  # ... the line it ended before (0: the function returned)
TRACE_STOPPED = "trace_stopped"  # TRACE: why recording stopped early ("" when it did not)
FAST_LAYERS = "fast_layers"  # the *_naive functions that called the shipped cs231n.fast_layers (where allowed)

# What a stand-in for a package the sandbox does not hold says when used (the grader reads it back).
NOT_INSTALLED = "is not installed where the grader runs the code"

STAGE_FILE = "stage"
IMPORT_STAGE = "import"


def valid_reply(reply):
    """Whether a decoded reply has the protocol's shape (the grader's side: a reply is hostile data, and
    anything else ends as that submission's error, never the grader's)."""
    if not isinstance(reply, dict) or not isinstance(reply.get(OK), bool):
        return False
    kinds = {STAGE: str, ERROR: str, TODO: bool, RESULTS: dict, NAMES: list, REFUSED: list, MISSING: list}
    return all(key not in reply or isinstance(reply[key], kind) for key, kind in kinds.items())
