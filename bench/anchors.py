"""Python-side anchors for normgen_bench: PyTorch CPU and ONNX Runtime CPU;
for the backward ops, PyTorch's autograd alone.

The C++ benchmark starts this script as a child process and talks to it over
pipes, one JSON object per line each way. stdout carries nothing but protocol
lines: everything else (warnings, logging, stray prints from native code) is
sent to stderr.

On start-up it writes one line naming the implementations it can run:

    {"impls": {"torch": {"available": true, "version": "2.15.0+cu132", "reason": null},
               "onnxruntime": {"available": false, "version": null,
                               "reason": "No module named 'onnxruntime'"}}}

then answers each request with exactly one line:

    {"cmd": "prepare", "case": CASE}
        Load the case's files, build every available implementation for it with
        the case's thread count, run each once and check its output against the
        expected output. Answer {"results": {IMPL: RESULT, ...}} with RESULT one of
            {"status": "ok", "max_abs_error": float}
            {"status": "unsupported", "reason": str, "scope": "case" or "op"}
                                                       (missing, or cannot express the case;
                                                        scope "op": nor any case of the op)
            {"status": "wrong", "reason": str}         (ran, but the output is wrong)
    {"cmd": "time", "impl": IMPL, "iterations": int, "warmup_seconds": float}
        On the most recently prepared case: call the implementation until
        warmup_seconds have passed and at least 2 calls were made, then time
        `iterations` calls one by one. Answer {"times_ms": [float, ...]}.
    {"cmd": "quit"}
        Exit with status 0, without an answer (end of stdin does the same).

A request that fails is answered {"error": "<type>: <message>"} and the script
keeps serving.

CASE names the op ("layer_norm", "batch_norm", "layer_norm_backward" or
"batch_norm_backward"), the logical shape, the layout ("rows", "nchw", "nhwc"
or "nc"), the mode ("forward" or "backward" for the LayerNorms, "training" or
"inference" for the BatchNorms), eps, momentum, threads, atol, rtol, atol_of
(an absolute tolerance per result, by name, where it is not atol),
normalized_rank (LayerNorm) and the files holding input, weight, bias, running
statistics and expected results: expected_output (and the running statistics
after a training step) for forward; grad_output and expected_grad_input,
expected_grad_weight, expected_grad_bias for backward, which computes all
three gradients. Every file is raw little-endian float32 in physical memory order:
channels-last, i.e. dims (0, 2, 3, ..., 1), for "nhwc", logical order otherwise.
Outputs are checked elementwise: |got - expected| <= atol + rtol*|expected|,
with the result's atol_of in place of atol where given.
"""

import json
import os
import sys
import time

# Claim the real stdout for the protocol before anything else can write to it,
# then point both file descriptor 1 and sys.stdout at stderr, so that neither
# Python warnings nor prints from native libraries can corrupt the protocol.
_PROTOCOL = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

import numpy as np  # noqa: E402  (must come after the redirection above)

IMPLS = ("torch", "onnxruntime")
BACKWARD_SUFFIX = "_backward"
OPS = ("layer_norm", "batch_norm", "layer_norm_backward", "batch_norm_backward")
# Which layouts and modes each op comes in.
OP_LAYOUTS = {"layer_norm": ("rows",), "batch_norm": ("nchw", "nhwc", "nc"),
              "layer_norm_backward": ("rows",), "batch_norm_backward": ("nchw", "nhwc", "nc")}
OP_MODES = {"layer_norm": ("forward",), "batch_norm": ("training", "inference"),
            "layer_norm_backward": ("backward",), "batch_norm_backward": ("training", "inference")}
GRADIENTS = ("grad_input", "grad_weight", "grad_bias")
LAYER_NORM_OPSET = 17
BATCH_NORM_OPSET = 15
FLOAT32 = np.dtype("<f4")

try:
    import torch

    # Forward tensors never require grad, so this equals running every forward
    # call under torch.no_grad(), without paying for the context manager per
    # call. Backward records its graph under torch.enable_grad().
    torch.set_grad_enabled(False)
    _TORCH = {"available": True, "version": torch.__version__, "reason": None}
except Exception as error:  # a broken install raises more than ImportError
    _TORCH = {"available": False, "version": None, "reason": str(error)}

try:
    import onnx
    import onnx.helper
    import onnxruntime as ort

    _ORT = {"available": True, "version": ort.__version__, "reason": None}
except Exception as error:
    _ORT = {"available": False, "version": None, "reason": str(error)}

AVAILABILITY = {"torch": _TORCH, "onnxruntime": _ORT}


class Unsupported(Exception):
    """The implementation cannot run this case; the message says why, and
    scope "op" that it cannot run any case of the op either."""

    def __init__(self, reason, scope="case"):
        super().__init__(reason)
        self.scope = scope


# ---------------------------------------------------------------- the case


class Case:
    """A validated benchmark case with its arrays loaded from disk."""

    def __init__(self, spec):
        self.op = spec["op"]
        self.shape = tuple(int(d) for d in spec["shape"])
        self.layout = spec["layout"]
        self.mode = spec["mode"]
        self.eps = float(spec["eps"])
        self.momentum = float(spec.get("momentum", 0.1))
        self.threads = int(spec["threads"])
        self.atol = float(spec["atol"])
        self.rtol = float(spec["rtol"])
        self.atol_of = {name: float(atol) for name, atol in spec.get("atol_of", {}).items()}
        self.normalized_rank = int(spec.get("normalized_rank", 0))
        self._validate()
        self.arrays = {name: self._load(name, path) for name, path in spec["files"].items()}
        self._require_files()

    @property
    def backward(self):
        return self.op.endswith(BACKWARD_SUFFIX)

    @property
    def forward_op(self):
        """The op whose gradients backward computes, or the op itself."""
        return self.op.removesuffix(BACKWARD_SUFFIX)

    @property
    def rank(self):
        return len(self.shape)

    @property
    def channels(self):
        return self.shape[1]

    @property
    def training(self):
        return self.mode == "training"

    @property
    def normalized_shape(self):
        return self.shape[self.rank - self.normalized_rank:]

    @property
    def physical_shape(self):
        """Shape of the input as it lies in memory."""
        if self.layout == "nhwc":
            return (self.shape[0],) + self.shape[2:] + (self.shape[1],)
        return self.shape

    @property
    def parameter_shape(self):
        if self.forward_op == "layer_norm":
            return self.normalized_shape
        return (self.channels,)

    def _validate(self):
        if self.op not in OPS:
            raise ValueError(f"unknown op {self.op!r}")
        if self.layout not in OP_LAYOUTS[self.op]:
            raise ValueError(f"{self.op} has no layout {self.layout!r}")
        if self.mode not in OP_MODES[self.op]:
            raise ValueError(f"{self.op} has no mode {self.mode!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.forward_op == "layer_norm" and not 1 <= self.normalized_rank <= self.rank:
            raise ValueError(f"normalized_rank {self.normalized_rank} does not fit shape {self.shape}")
        if self.layout == "nc" and self.rank != 2:
            raise ValueError(f"layout 'nc' needs a 2-D shape, got {self.shape}")
        if self.layout in ("nchw", "nhwc") and self.rank < 3:
            raise ValueError(f"layout {self.layout!r} needs at least 3 dimensions, got {self.shape}")

    def _required_files(self):
        names = ["input", "weight", "bias"]
        if self.forward_op == "batch_norm":
            names += ["running_mean", "running_var"]
        if self.backward:
            return names + ["grad_output"] + [f"expected_{name}" for name in GRADIENTS]
        names.append("expected_output")
        if self.training:
            names += ["expected_running_mean", "expected_running_var"]
        return names

    def _require_files(self):
        missing = [name for name in self._required_files() if name not in self.arrays]
        if missing:
            raise ValueError(f"case lacks files: {', '.join(missing)}")

    def _expected_shape(self, name):
        if name in ("input", "expected_output", "grad_output", "expected_grad_input"):
            return self.physical_shape
        return self.parameter_shape

    def _load(self, name, path):
        data = np.fromfile(path, dtype=FLOAT32)
        shape = self._expected_shape(name)
        if data.size != int(np.prod(shape)):
            raise ValueError(f"{name} file {path} holds {data.size} floats, expected {shape}")
        return data.reshape(shape)


# ------------------------------------------------------------- correctness


def mismatch(got, expected, atol, rtol):
    """None if got matches expected within atol + rtol*|expected|, else why not."""
    got = np.asarray(got, dtype=np.float64).ravel()
    expected = np.asarray(expected, dtype=np.float64).ravel()
    if got.size != expected.size:
        return f"got {got.size} values, expected {expected.size}"
    error = np.abs(got - expected)
    # Written as a negated <= so that NaN anywhere counts as a failure.
    failing = ~(error <= atol + rtol * np.abs(expected))
    if not failing.any():
        return None
    nan_error = np.isnan(error)
    index = int(np.argmax(nan_error)) if nan_error.any() else int(np.argmax(error))
    return (
        f"max |error| {error[index]:.6g} at index {index} "
        f"(got {got[index]:.8g}, expected {expected[index]:.8g}), "
        f"tolerance {atol:g}+{rtol:g}*|expected|"
    )


def max_abs_error(pairs):
    return max(float(np.max(np.abs(np.asarray(g, np.float64) - np.asarray(e, np.float64)))) for g, e in pairs)


def check_outputs(case, pairs):
    """Result for outputs [(name, got, expected)], all of which must match."""
    for name, got, expected in pairs:
        reason = mismatch(got, expected, case.atol_of.get(name, case.atol), case.rtol)
        if reason:
            return {"status": "wrong", "reason": f"{name}: {reason}"}
    return {"status": "ok", "max_abs_error": max_abs_error([(g, e) for _, g, e in pairs])}


def running_stat_pairs(case, running_mean, running_var):
    return [
        ("running_mean", running_mean, case.arrays["expected_running_mean"]),
        ("running_var", running_var, case.arrays["expected_running_var"]),
    ]


# -------------------------------------------------------------------- torch


def channels_last_format(rank):
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(rank)


def torch_input(case):
    """The input as a logical (N, C, ...) tensor over the file's memory."""
    return torch_input_like(case, "input")


def torch_input_like(case, name):
    """The array `name`, laid out as the input, as a logical (N, C, ...) tensor
    over the file's memory."""
    x = torch.from_numpy(case.arrays[name])
    if case.layout != "nhwc":
        return x
    # Physical (N, spatial..., C) viewed as logical (N, C, spatial...).
    x = x.permute(0, case.rank - 1, *range(1, case.rank - 1))
    memory_format = channels_last_format(case.rank)
    if memory_format is not None:
        assert x.is_contiguous(memory_format=memory_format)
    return x


def torch_physical(case, y):
    """The output in the input's physical order, for comparison."""
    if case.layout == "nhwc":
        y = y.permute(0, *range(2, case.rank), 1)
    return y.contiguous().numpy()


def build_torch_layer_norm(case):
    x = torch_input(case)
    weight = torch.from_numpy(case.arrays["weight"])
    bias = torch.from_numpy(case.arrays["bias"])
    normalized_shape = list(case.normalized_shape)

    def call():
        return torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, case.eps)

    result = check_outputs(case, [("output", torch_physical(case, call()), case.arrays["expected_output"])])
    return call, result


def build_torch_batch_norm(case):
    x = torch_input(case)
    weight = torch.from_numpy(case.arrays["weight"])
    bias = torch.from_numpy(case.arrays["bias"])
    # Copies, because training updates them in place and the files' arrays are
    # shared with ONNX Runtime.
    running_mean = torch.from_numpy(case.arrays["running_mean"].copy())
    running_var = torch.from_numpy(case.arrays["running_var"].copy())

    def call():
        return torch.nn.functional.batch_norm(
            x, running_mean, running_var, weight, bias,
            training=case.training, momentum=case.momentum, eps=case.eps,
        )

    pairs = [("output", torch_physical(case, call()), case.arrays["expected_output"])]
    if case.training:
        pairs += running_stat_pairs(case, running_mean.numpy().copy(), running_var.numpy().copy())
    return call, check_outputs(case, pairs)


def build_torch_backward(case):
    """Autograd of the same op: the graph of one forward call, recorded once,
    whose backward alone is timed (retain_graph keeps it for the next call)."""
    x = torch_input(case).detach().requires_grad_()
    weight = torch.nn.Parameter(torch.from_numpy(case.arrays["weight"]))
    bias = torch.nn.Parameter(torch.from_numpy(case.arrays["bias"]))
    grad_output = torch_input_like(case, "grad_output")
    with torch.enable_grad():
        if case.forward_op == "layer_norm":
            y = torch.nn.functional.layer_norm(x, list(case.normalized_shape), weight, bias, case.eps)
        else:
            y = torch.nn.functional.batch_norm(
                x, torch.from_numpy(case.arrays["running_mean"].copy()),
                torch.from_numpy(case.arrays["running_var"].copy()), weight, bias,
                training=case.training, momentum=case.momentum, eps=case.eps,
            )

    def call():
        return torch.autograd.grad(y, (x, weight, bias), grad_output, retain_graph=True)

    grad_input, grad_weight, grad_bias = call()
    got = {"grad_input": torch_physical(case, grad_input),
           "grad_weight": grad_weight.numpy(), "grad_bias": grad_bias.numpy()}
    return call, check_outputs(case, [(name, got[name], case.arrays[f"expected_{name}"])
                                      for name in GRADIENTS])


def build_torch(case):
    torch.set_num_threads(case.threads)
    if case.backward:
        return build_torch_backward(case)
    if case.op == "layer_norm":
        return build_torch_layer_norm(case)
    return build_torch_batch_norm(case)


# -------------------------------------------------------------- onnxruntime


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def tensor_info(name, shape):
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(shape))


def single_node_model(node, inputs, outputs, opset):
    """A serialized model of one node over input arrays and output shapes."""
    graph = onnx.helper.make_graph(
        [node], node.op_type,
        [tensor_info(name, array.shape) for name, array in inputs.items()],
        [tensor_info(name, shape) for name, shape in outputs.items()],
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    # The lowest IR version that knows the opset, so that an ONNX package newer
    # than ONNX Runtime does not stamp an IR version the runtime rejects.
    model = onnx.helper.make_model(graph, opset_imports=opsets,
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def layer_norm_model(case):
    node = onnx.helper.make_node(
        "LayerNormalization", ["X", "Scale", "B"], ["Y"],
        axis=case.rank - case.normalized_rank, epsilon=case.eps,
    )
    inputs = {"X": case.arrays["input"], "Scale": case.arrays["weight"], "B": case.arrays["bias"]}
    outputs = {"Y": case.shape}
    return single_node_model(node, inputs, outputs, LAYER_NORM_OPSET), inputs, outputs


def batch_norm_model(case):
    if case.layout == "nhwc":
        raise Unsupported(
            "ONNX BatchNormalization is channels-first only; an NHWC input would need "
            "a Transpose, which would be timed too"
        )
    inputs = {
        "X": case.arrays["input"], "scale": case.arrays["weight"], "B": case.arrays["bias"],
        "input_mean": case.arrays["running_mean"], "input_var": case.arrays["running_var"],
    }
    outputs = {"Y": case.shape}
    attributes = {"epsilon": case.eps}
    if case.training:
        outputs.update(running_mean=(case.channels,), running_var=(case.channels,))
        # ONNX's momentum weighs the old running value, torch's the new batch value.
        attributes.update(training_mode=1, momentum=1.0 - case.momentum)
    node = onnx.helper.make_node("BatchNormalization", list(inputs), list(outputs), **attributes)
    return single_node_model(node, inputs, outputs, BATCH_NORM_OPSET), inputs, outputs


def ort_session(model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # ONNX Runtime's workers spin-wait for tens of milliseconds after a call
    # by default, which on a machine with as many threads as cores starves
    # whatever is timed next (torch ran 2-3x slower after it). Blocking
    # instead costs ORT a thread wake-up per call: microseconds, against the
    # milliseconds a call here takes.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class BoundSession:
    """A session with its inputs and preallocated outputs bound, so that a
    timed call neither allocates nor copies."""

    def __init__(self, session, inputs, outputs):
        self.session = session
        # The bound OrtValues point into these arrays, which must outlive them.
        self.arrays = dict(inputs)
        self.arrays.update({name: np.empty(shape, dtype=np.float32) for name, shape in outputs.items()})
        self.binding = session.io_binding()
        for name in inputs:
            self.binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(self.arrays[name]))
        for name in outputs:
            self.binding.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(self.arrays[name]))

    def __call__(self):
        self.session.run_with_iobinding(self.binding)


def biased_variance_explains(case, got_running_var):
    """Whether ONNX Runtime's running_var is torch's with the batch variance
    left biased (divided by the count instead of count - 1)."""
    count = case.arrays["input"].size // case.channels
    if count < 2:
        return False
    old = case.arrays["running_var"].astype(np.float64)
    expected = case.arrays["expected_running_var"].astype(np.float64)
    unbiased = (expected - (1 - case.momentum) * old) / case.momentum
    biased = (1 - case.momentum) * old + case.momentum * unbiased * (count - 1) / count
    return mismatch(got_running_var, biased, case.atol, case.rtol) is None


def ort_training_result(case, y, running_mean, running_var):
    """The output decides right or wrong. ONNX's BatchNormalization blends the
    biased batch variance into running_var where torch blends the unbiased
    one; that is the same work with ONNX's documented semantics, so it counts
    as right. Running statistics that match neither make the case unsupported."""
    output = [("output", y, case.arrays["expected_output"])]
    result = check_outputs(case, output + running_stat_pairs(case, running_mean, running_var))
    if result["status"] == "ok" or check_outputs(case, output)["status"] != "ok":
        return result
    if mismatch(running_mean, case.arrays["expected_running_mean"], case.atol, case.rtol) is None \
            and biased_variance_explains(case, running_var):
        return check_outputs(case, output)
    return {"status": "unsupported",
            "reason": f"BatchNormalization training: output matches, but {result['reason']}"}


def build_onnxruntime(case):
    if case.backward:
        raise Unsupported("the inference package has no gradient kernels (those ship with "
                          "onnxruntime-training)", scope="op")
    build_model = layer_norm_model if case.op == "layer_norm" else batch_norm_model
    model, inputs, outputs = build_model(case)
    try:
        call = BoundSession(ort_session(model, case.threads), inputs, outputs)
        call()
    except Exception as error:
        raise Unsupported(first_line(error)) from error
    got = call.arrays
    if case.training:
        return call, ort_training_result(case, got["Y"], got["running_mean"], got["running_var"])
    return call, check_outputs(case, [("output", got["Y"], case.arrays["expected_output"])])


BUILDERS = {"torch": build_torch, "onnxruntime": build_onnxruntime}


# ------------------------------------------------------------------ serving


class Server:
    """Holds the callables of the most recently prepared case."""

    def __init__(self):
        self.calls = {}
        self.results = {}

    def prepare(self, spec):
        self.calls, self.results = {}, {}
        case = Case(spec)
        for impl in IMPLS:
            self.results[impl] = self._build(impl, case)
        return {"results": self.results}

    def _build(self, impl, case):
        if not AVAILABILITY[impl]["available"]:
            return {"status": "unsupported", "reason": AVAILABILITY[impl]["reason"]}
        try:
            call, result = BUILDERS[impl](case)
        except Unsupported as why:
            return {"status": "unsupported", "reason": str(why), "scope": why.scope}
        if result["status"] == "ok":
            self.calls[impl] = call
        return result

    def time(self, impl, iterations, warmup_seconds):
        if impl not in self.results:
            return {"error": f"no case prepared for {impl!r}" if impl in IMPLS else f"unknown impl {impl!r}"}
        if impl not in self.calls:
            return {"error": f"{impl} is not usable for this case: {self.results[impl]['status']}"}
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        call = self.calls[impl]
        warm_up(call, warmup_seconds)
        return {"times_ms": time_calls(call, iterations)}

    def handle(self, request):
        command = request.get("cmd")
        if command == "prepare":
            return self.prepare(request["case"])
        if command == "time":
            return self.time(request["impl"], int(request["iterations"]), float(request["warmup_seconds"]))
        raise ValueError(f"unknown cmd {command!r}")


def warm_up(call, seconds):
    deadline = time.perf_counter() + seconds
    calls = 0
    while calls < 2 or time.perf_counter() < deadline:
        call()
        calls += 1


def time_calls(call, iterations):
    times = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times


def send(message):
    _PROTOCOL.write(json.dumps(message, allow_nan=False) + "\n")
    _PROTOCOL.flush()


def answer(server, line):
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request must be a JSON object")
        if request.get("cmd") == "quit":
            return None
        response = server.handle(request)
        json.dumps(response, allow_nan=False)  # fail here, not half-way through a write
        return response
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"}


def main():
    send({"impls": AVAILABILITY})
    server = Server()
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            continue
        response = answer(server, line)
        if response is None:
            break
        send(response)
    return 0


if __name__ == "__main__":
    sys.exit(main())
