"""normgen's CUDA kernels against PyTorch eager and a device-to-device copy.

Usage: python3 bench/gpu/gpu_bench.py --library BUNDLE/libnormgen_c.so --out DIR [--quick]
                                      [--only TEXT ...]

One process, on torch's current CUDA stream. For every workload of the
issue's suite (LayerNorm forward; BatchNorm training and inference forward,
NCHW and NHWC; bfloat16 and float32), normgen (through the C ABI of
normgen.h, with ctypes) and torch eager are first checked against a float64
computation of the same inputs; a workload whose normgen result is wrong is
reported with its worst element and not timed. Then three implementations are
timed with CUDA events, interleaved round by round so that clock and thermal
drift hit all alike:

    normgen     normgen_layer_norm / normgen_batch_norm
    torch-cuda  torch.nn.functional.layer_norm / batch_norm, under no_grad
    limit       dst.copy_(x): the input read once and the output written once,
                the bytes every op here moves at least

Prints a table per op and the issue's performance targets, and writes
DIR/gpu_results.json (the records of bench/report.py's schema, threads null,
plus the device) and DIR/gpu_results.md. The exit status is 0 when every
correctness check passed and 1 otherwise; the performance targets are
reported, they do not change it.

Only the standard library is needed to import this file and to format
results; torch is imported where tensors are made.
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

# ------------------------------------------------------------- the C ABI

NORMGEN_OK = 0
STATUS_NAMES = {1: "NORMGEN_INVALID_ARGUMENT", 2: "NORMGEN_KERNEL_FAILED",
                3: "NORMGEN_INTERNAL_ERROR", 4: "NORMGEN_CUDA_UNAVAILABLE"}
NORMGEN_DTYPES = {"float32": 0, "float16": 1, "bfloat16": 2}
NORMGEN_DEVICES = {"cpu": 0, "cuda": 1}


class NormgenTensor(ctypes.Structure):
    """normgen.h's normgen_tensor: shape and strides in elements."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int),  # a C enum: int-sized on every ABI normgen targets
        ("device", ctypes.c_int),
        ("rank", ctypes.c_int32),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
    ]


class NormgenError(RuntimeError):
    pass


def dtype_name(tensor):
    """The name of the records and NORMGEN_DTYPES: float32 for torch.float32."""
    return str(tensor.dtype).split(".")[-1]


def as_normgen_tensor(tensor):
    """A view of a torch tensor for the C ABI, valid while the view lives."""
    name = dtype_name(tensor)
    if name not in NORMGEN_DTYPES:
        raise NormgenError(f"normgen has no dtype {name} (it has {', '.join(NORMGEN_DTYPES)})")
    rank = tensor.dim()
    shape = (ctypes.c_int64 * rank)(*tensor.shape)
    strides = (ctypes.c_int64 * rank)(*tensor.stride())
    view = NormgenTensor(tensor.data_ptr(), NORMGEN_DTYPES[name],
                         NORMGEN_DEVICES[tensor.device.type], rank, shape, strides)
    # The view points into the arrays and the tensor's memory; ctypes keeps
    # the arrays alive by itself, but not the tensor.
    view.referents = (tensor, shape, strides)
    return view


def reference_to(tensor):
    """A normgen_tensor * argument: NULL for None."""
    return None if tensor is None else ctypes.byref(as_normgen_tensor(tensor))


class Normgen:
    """libnormgen_c.so. The bind_* methods return a call with its arguments
    converted once, so that timing measures the call and not the conversion;
    a call that fails raises NormgenError with normgen_last_error()."""

    def __init__(self, library_path):
        self._library = library = ctypes.CDLL(library_path)
        tensor = ctypes.POINTER(NormgenTensor)
        library.normgen_layer_norm.argtypes = [
            tensor, ctypes.POINTER(ctypes.c_int64), ctypes.c_int32, tensor, tensor,
            ctypes.c_double, tensor, tensor, tensor]
        library.normgen_batch_norm.argtypes = [
            tensor, tensor, tensor, tensor, tensor, ctypes.c_int, ctypes.c_double,
            ctypes.c_double, tensor, ctypes.POINTER(ctypes.c_int64), tensor, tensor]
        library.normgen_layer_norm_backward.argtypes = [
            tensor, tensor, ctypes.POINTER(ctypes.c_int64), ctypes.c_int32, tensor, tensor,
            tensor, tensor, tensor, tensor]
        library.normgen_batch_norm_backward.argtypes = [
            tensor, tensor, tensor, tensor, tensor, tensor, tensor, ctypes.c_int,
            ctypes.c_double, tensor, tensor, tensor]
        for function in (library.normgen_layer_norm, library.normgen_batch_norm,
                         library.normgen_layer_norm_backward, library.normgen_batch_norm_backward):
            function.restype = ctypes.c_int
        library.normgen_last_error.argtypes = []
        library.normgen_last_error.restype = ctypes.c_char_p
        library.normgen_cuda_available.argtypes = []
        library.normgen_cuda_available.restype = ctypes.c_int
        library.normgen_set_cuda_stream.argtypes = [ctypes.c_void_p]
        library.normgen_set_cuda_stream.restype = None
        library.normgen_cuda_stream.argtypes = []
        library.normgen_cuda_stream.restype = ctypes.c_void_p

    def last_error(self):
        return self._library.normgen_last_error().decode("utf-8", "replace")

    def cuda_available(self):
        """(True, "") or (False, why)."""
        available = self._library.normgen_cuda_available() == 1
        return available, "" if available else self.last_error()

    def set_cuda_stream(self, stream_handle):
        """The calling thread's later calls run on this cudaStream_t (an int; 0: legacy default)."""
        self._library.normgen_set_cuda_stream(ctypes.c_void_p(stream_handle))

    def cuda_stream(self):
        return self._library.normgen_cuda_stream() or 0

    def _bound(self, function, arguments):
        def call():
            status = function(*arguments)
            if status != NORMGEN_OK:
                raise NormgenError(f"{function.__name__} returned {STATUS_NAMES.get(status, status)}: "
                                   f"{self.last_error()}")
        return call

    def bind_layer_norm(self, x, normalized_shape, weight, bias, eps, y, mean, rstd):
        shape = (ctypes.c_int64 * len(normalized_shape))(*normalized_shape)
        return self._bound(self._library.normgen_layer_norm, (
            reference_to(x), shape, len(normalized_shape), reference_to(weight),
            reference_to(bias), eps, reference_to(y), reference_to(mean), reference_to(rstd)))

    def bind_batch_norm(self, x, running_mean, running_var, weight, bias, training, momentum,
                        eps, y, save_mean, save_invstd):
        # num_batches_tracked is only read for momentum=None (NaN), never here.
        return self._bound(self._library.normgen_batch_norm, (
            reference_to(x), reference_to(running_mean), reference_to(running_var),
            reference_to(weight), reference_to(bias), int(training), momentum, eps,
            reference_to(y), None, reference_to(save_mean), reference_to(save_invstd)))


    def bind_layer_norm_backward(self, dy, x, normalized_shape, mean, rstd, weight, dx, dweight,
                                 dbias):
        shape = (ctypes.c_int64 * len(normalized_shape))(*normalized_shape)
        return self._bound(self._library.normgen_layer_norm_backward, (
            reference_to(dy), reference_to(x), shape, len(normalized_shape), reference_to(mean),
            reference_to(rstd), reference_to(weight), reference_to(dx), reference_to(dweight),
            reference_to(dbias)))

    def bind_batch_norm_backward(self, dy, x, weight, save_mean, save_invstd, dx, dweight, dbias):
        """Training mode: through the batch statistics forward saved."""
        return self._bound(self._library.normgen_batch_norm_backward, (
            reference_to(dy), reference_to(x), reference_to(weight), None, None,
            reference_to(save_mean), reference_to(save_invstd), 1, EPS, reference_to(dx),
            reference_to(dweight), reference_to(dbias)))


# -------------------------------------------------------------- workloads

EPS = 1e-5
MOMENTUM = 0.1
DTYPE_BYTES = {"float32": 4, "bfloat16": 2}
MIB = 1 << 20
# (atol, rtol) on y, as in the CPU benchmark for float32; bfloat16 keeps 8
# significant bits, so its output alone is off by up to 2^-9 relative.
Y_TOLERANCE = {"float32": (1e-4, 1e-4), "bfloat16": (2e-2, 2e-2)}
STATS_TOLERANCE = (1e-4, 1e-3)  # mean, rstd, save_*, running_*: always float32

LAYER_NORM_SHAPES = ((16384, 1024), (16384, 2048), (4096, 8192), (8192, 4096), (65536, 256))
BATCH_NORM_SHAPES = ((32, 64, 112, 112), (128, 256, 28, 28), (256, 512, 7, 7))


@dataclass(frozen=True)
class Workload:
    op: str  # "layer_norm", "batch_norm", or either with "_backward"
    shape: tuple  # logical: (rows, C) for layer_norm, (N, C, H, W) for batch_norm
    layout: str  # "rows", "nchw" or "nhwc"
    mode: str  # "forward", "training" or "inference"
    dtype: str

    @property
    def is_layer_norm(self):
        return self.op.startswith("layer_norm")

    @property
    def backward(self):
        return self.op.endswith("_backward")

    @property
    def normalized_shape(self):
        return self.shape[-1:] if self.is_layer_norm else ()

    @property
    def numel(self):
        return math.prod(self.shape)

    @property
    def bytes_moved(self):
        """The input read once and the output written once; backward reads x
        and dy and writes dx (the parameter gradients are per channel or
        element: negligible)."""
        return (3 if self.backward else 2) * self.numel * DTYPE_BYTES[self.dtype]

    @property
    def shape_label(self):
        return "x".join(map(str, self.shape))

    @property
    def label(self):
        parts = [self.op, self.shape_label]
        if not self.is_layer_norm:
            parts += [self.layout, self.mode]
        return " ".join(parts + [self.dtype])


def suite(quick):
    if quick:
        return [Workload("layer_norm", (16384, 1024), "rows", "forward", "float32"),
                Workload("batch_norm", (128, 256, 28, 28), "nchw", "training", "float32"),
                Workload("batch_norm", (128, 256, 28, 28), "nhwc", "training", "float32"),
                Workload("layer_norm_backward", (16384, 1024), "rows", "backward", "float32"),
                Workload("batch_norm_backward", (128, 256, 28, 28), "nchw", "training", "float32")]
    workloads = [Workload(op, shape, "rows", mode, dtype)
                 for op, mode in (("layer_norm", "forward"), ("layer_norm_backward", "backward"))
                 for dtype in ("bfloat16", "float32") for shape in LAYER_NORM_SHAPES]
    workloads += [Workload("batch_norm", shape, layout, mode, dtype)
                  for mode in ("training", "inference") for dtype in ("bfloat16", "float32")
                  for shape in BATCH_NORM_SHAPES for layout in ("nchw", "nhwc")]
    workloads += [Workload("batch_norm_backward", shape, layout, "training", dtype)
                  for dtype in ("bfloat16", "float32") for shape in BATCH_NORM_SHAPES
                  for layout in ("nchw", "nhwc")]
    return workloads


@dataclass
class Prepared:
    """A workload's tensors behind its timed calls."""
    calls: dict  # impl -> a call, as timed
    check: object  # () -> ([normgen's wrong results], [torch's]), each a line


def torch_sanity(compare_torch, calls):
    """compare_torch()'s lines. Where torch raises instead, that is the line,
    and torch-cuda leaves the timed calls: normgen's timing is still wanted."""
    try:
        return compare_torch()
    except Exception as error:
        del calls["torch-cuda"]
        return [f"torch-cuda raised {type(error).__name__}: {error}"]


def random_tensor(shape, dtype, device, generator, channels_last=False):
    import torch

    tensor = torch.randn(shape, generator=generator, device=device).to(getattr(torch, dtype))
    return tensor.contiguous(memory_format=torch.channels_last) if channels_last else tensor


def seeded_generator(workload, device):
    import torch

    return torch.Generator(device=device).manual_seed(workload.numel % (2**31))


def unravel(flat_index, shape):
    index = []
    for size in reversed(shape):
        index.append(flat_index % size)
        flat_index //= size
    return tuple(reversed(index))


def compare(what, got, expected, atol, rtol):
    """None when every element is within atol + rtol*|expected|; otherwise a
    line naming the worst element. expected is float64."""
    import torch

    if tuple(got.shape) != tuple(expected.shape):
        return f"{what}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    got64 = got.double()
    error = (got64 - expected).abs()
    allowed = atol + rtol * expected.abs()
    # NaN compares false with everything: make it the worst excess instead.
    excess = torch.nan_to_num(error - allowed, nan=math.inf).reshape(-1)
    wrong = int((excess > 0).sum())
    if wrong == 0:
        return None
    index = unravel(int(excess.argmax()), tuple(got.shape))
    return (f"{what}: {wrong} of {got.numel()} elements off; worst at {list(index)}: "
            f"got {got64[index].item():.7g}, expected {expected[index].item():.7g} "
            f"(|error| {error[index].item():.3g} > {allowed[index].item():.3g} = "
            f"atol {atol:g} + rtol {rtol:g} * |expected|)")


def compare_all(pairs):
    """The lines of compare() for [(what, got, expected, (atol, rtol))] that are wrong."""
    lines = (compare(what, got, expected, *tolerance) for what, got, expected, tolerance in pairs)
    return [line for line in lines if line is not None]


def layer_norm_reference(x, weight, bias):
    """y, mean, rstd of torch's layer_norm over the last dim, in float64."""
    x64 = x.double()
    mean = x64.mean(dim=-1)
    centered = x64 - mean.unsqueeze(-1)
    rstd = ((centered * centered).mean(dim=-1) + EPS).rsqrt()
    y = centered * rstd.unsqueeze(-1) * weight.double() + bias.double()
    return y, mean, rstd


def prepare_layer_norm(workload, normgen, device):
    import torch
    import torch.nn.functional as F

    generator = seeded_generator(workload, device)
    x = random_tensor(workload.shape, workload.dtype, device, generator)
    weight = random_tensor(workload.normalized_shape, workload.dtype, device, generator)
    bias = random_tensor(workload.normalized_shape, workload.dtype, device, generator)
    rows = workload.shape[:-1]
    y = torch.empty_like(x)
    mean = torch.empty(rows, dtype=torch.float32, device=device)
    rstd = torch.empty(rows, dtype=torch.float32, device=device)
    copy = torch.empty_like(x)
    normgen_call = normgen.bind_layer_norm(x, workload.normalized_shape, weight, bias, EPS, y,
                                           mean, rstd)

    def torch_call():
        return F.layer_norm(x, workload.normalized_shape, weight, bias, EPS)

    def check():
        expected_y, expected_mean, expected_rstd = layer_norm_reference(x, weight, bias)
        normgen_call()
        y_tolerance = Y_TOLERANCE[workload.dtype]
        wrong = compare_all([("normgen y", y, expected_y, y_tolerance),
                             ("normgen mean", mean, expected_mean, STATS_TOLERANCE),
                             ("normgen rstd", rstd, expected_rstd, STATS_TOLERANCE)])
        torch_wrong = torch_sanity(
            lambda: compare_all([("torch-cuda y", torch_call(), expected_y, y_tolerance)]), calls)
        return wrong, torch_wrong

    calls = {"normgen": normgen_call, "torch-cuda": torch_call, "limit": lambda: copy.copy_(x)}
    return Prepared(calls, check)


def batch_norm_reference(x, weight, bias, running_mean, running_var, training):
    """y, batch mean, batch invstd, and the running statistics after the
    step, of torch's batch_norm in float64 (inference: y and the unchanged
    running statistics; batch mean and invstd are None)."""
    x64 = x.double()
    channels = x.shape[1]
    reduced = [0] + list(range(2, x.dim()))

    def per_channel(values):
        return values.double().view(1, channels, *([1] * (x.dim() - 2)))

    running_mean64, running_var64 = running_mean.double(), running_var.double()
    if training:
        mean = x64.mean(dim=reduced)
        centered = x64 - per_channel(mean)
        var = (centered * centered).mean(dim=reduced)
        count = x.numel() // channels
        running_mean64 = (1 - MOMENTUM) * running_mean64 + MOMENTUM * mean
        running_var64 = (1 - MOMENTUM) * running_var64 + MOMENTUM * var * count / (count - 1)
    else:
        mean, var = running_mean64, running_var64
        centered = x64 - per_channel(mean)
    invstd = (var + EPS).rsqrt()
    y = centered * per_channel(invstd) * per_channel(weight) + per_channel(bias)
    if not training:
        mean = invstd = None
    return y, mean, invstd, running_mean64, running_var64


def prepare_batch_norm(workload, normgen, device):
    import torch
    import torch.nn.functional as F

    training = workload.mode == "training"
    channels = workload.shape[1]
    generator = seeded_generator(workload, device)
    x = random_tensor(workload.shape, workload.dtype, device, generator,
                      channels_last=workload.layout == "nhwc")
    weight = random_tensor((channels,), workload.dtype, device, generator)
    bias = random_tensor((channels,), workload.dtype, device, generator)
    # Running statistics such as a trained network carries: means near 0,
    # variances near 1 (as the CPU benchmark's).
    initial_mean = torch.randn(channels, generator=generator, device=device)
    initial_var = 1 + 0.25 * torch.randn(channels, generator=generator, device=device).abs()
    running_mean, running_var = initial_mean.clone(), initial_var.clone()
    y = torch.empty_like(x)  # in x's memory layout, as normgen requires
    save_mean = torch.empty(channels, dtype=torch.float32, device=device) if training else None
    save_invstd = torch.empty(channels, dtype=torch.float32, device=device) if training else None
    normgen_call = normgen.bind_batch_norm(x, running_mean, running_var, weight, bias, training,
                                           MOMENTUM, EPS, y, save_mean, save_invstd)
    # torch's mixed-precision convention: float32 parameters whatever the
    # input's dtype; the same values as normgen's, so one reference serves both.
    torch_weight, torch_bias = weight.float(), bias.float()
    torch_mean, torch_var = initial_mean.clone(), initial_var.clone()
    copy = torch.empty_like(x)

    def torch_call():
        return F.batch_norm(x, torch_mean, torch_var, torch_weight, torch_bias,
                            training=training, momentum=MOMENTUM, eps=EPS)

    def check():
        expected_y, expected_mean, expected_invstd, expected_running_mean, expected_running_var = \
            batch_norm_reference(x, weight, bias, initial_mean, initial_var, training)
        normgen_call()
        y_tolerance = Y_TOLERANCE[workload.dtype]
        checked = [("normgen y", y, expected_y, y_tolerance)]
        if training:
            checked += [
                ("normgen save_mean", save_mean, expected_mean, STATS_TOLERANCE),
                ("normgen save_invstd", save_invstd, expected_invstd, STATS_TOLERANCE),
                ("normgen running_mean", running_mean, expected_running_mean, STATS_TOLERANCE),
                ("normgen running_var", running_var, expected_running_var, STATS_TOLERANCE)]
        wrong = compare_all(checked)
        if not training and not (torch.equal(running_mean, initial_mean)
                                 and torch.equal(running_var, initial_var)):
            wrong.append("normgen running statistics: changed in inference mode")
        torch_wrong = torch_sanity(lambda: compare_all([
            ("torch-cuda y", torch_call(), expected_y, y_tolerance),
            ("torch-cuda running_mean", torch_mean, expected_running_mean, STATS_TOLERANCE),
            ("torch-cuda running_var", torch_var, expected_running_var, STATS_TOLERANCE)]), calls)
        return wrong, torch_wrong

    calls = {"normgen": normgen_call, "torch-cuda": torch_call, "limit": lambda: copy.copy_(x)}
    return Prepared(calls, check)


GRAD_TOLERANCE = {"float32": (1e-3, 1e-3), "bfloat16": (4e-2, 4e-2)}  # sums of many terms


def float64_gradients(forward, x, parameters, dy):
    """d(sum(forward(x, *parameters) * dy)) / d(x, *parameters) in float64."""
    import torch

    with torch.enable_grad():
        inputs = [t.detach().double().requires_grad_() for t in (x, *parameters)]
        y = forward(*inputs)
        return torch.autograd.grad(y, inputs, dy.double())


def torch_backward_call(forward, x, parameters, dy):
    """torch eager's backward of forward(x, *parameters): the graph is built
    once (untimed), each call runs autograd through it."""
    import torch

    with torch.enable_grad():
        inputs = [x.detach().requires_grad_()] + [p.detach().requires_grad_() for p in parameters]
        y = forward(*inputs)

    def call():
        with torch.enable_grad():
            return torch.autograd.grad(y, inputs, dy, retain_graph=True)
    return call


def prepared_backward(workload, forward, x, parameters, dy, normgen_call, gradients, torch_call):
    """A backward workload's timed calls (the limit: x + dy into a third
    tensor, what backward must read and write) and its check: normgen's
    `gradients` (dx, dweight, dbias) and torch's against float64 autograd."""
    import torch

    limit_out = torch.empty_like(x)

    def check():
        expected = float64_gradients(forward, x, parameters, dy)
        normgen_call()
        tolerance = GRAD_TOLERANCE[workload.dtype]
        names = ("grad_input", "grad_weight", "grad_bias")
        wrong = compare_all([(f"normgen {name}", got, want, tolerance)
                             for name, got, want in zip(names, gradients, expected)])
        torch_wrong = torch_sanity(lambda: compare_all([
            (f"torch-cuda {name}", got, want, tolerance)
            for name, got, want in zip(names, torch_call(), expected)]), calls)
        return wrong, torch_wrong

    calls = {"normgen": normgen_call, "torch-cuda": torch_call,
             "limit": lambda: torch.add(x, dy, out=limit_out)}
    return Prepared(calls, check)


def prepare_layer_norm_backward(workload, normgen, device):
    import torch
    import torch.nn.functional as F

    generator = seeded_generator(workload, device)
    x = random_tensor(workload.shape, workload.dtype, device, generator)
    weight = random_tensor(workload.normalized_shape, workload.dtype, device, generator)
    bias = random_tensor(workload.normalized_shape, workload.dtype, device, generator)
    dy = random_tensor(workload.shape, workload.dtype, device, generator)
    rows = workload.shape[:-1]
    mean = torch.empty(rows, dtype=torch.float32, device=device)
    rstd = torch.empty(rows, dtype=torch.float32, device=device)
    normgen.bind_layer_norm(x, workload.normalized_shape, weight, bias, EPS, torch.empty_like(x),
                            mean, rstd)()  # the statistics backward starts from (untimed)
    dx, dweight, dbias = torch.empty_like(x), torch.empty_like(weight), torch.empty_like(bias)
    normgen_call = normgen.bind_layer_norm_backward(dy, x, workload.normalized_shape, mean, rstd,
                                                    weight, dx, dweight, dbias)

    def forward(x_, weight_, bias_):
        return F.layer_norm(x_, workload.normalized_shape, weight_, bias_, EPS)

    torch_call = torch_backward_call(forward, x, (weight, bias), dy)
    return prepared_backward(workload, forward, x, (weight, bias), dy, normgen_call,
                             (dx, dweight, dbias), torch_call)


def prepare_batch_norm_backward(workload, normgen, device):
    import torch
    import torch.nn.functional as F

    channels = workload.shape[1]
    generator = seeded_generator(workload, device)
    nhwc = workload.layout == "nhwc"
    x = random_tensor(workload.shape, workload.dtype, device, generator, channels_last=nhwc)
    weight = random_tensor((channels,), workload.dtype, device, generator)
    bias = random_tensor((channels,), workload.dtype, device, generator)
    dy = random_tensor(workload.shape, workload.dtype, device, generator, channels_last=nhwc)
    save_mean = torch.empty(channels, dtype=torch.float32, device=device)
    save_invstd = torch.empty(channels, dtype=torch.float32, device=device)
    normgen.bind_batch_norm(x, None, None, weight, bias, True, MOMENTUM, EPS, torch.empty_like(x),
                            save_mean, save_invstd)()  # the statistics backward starts from
    dx, dweight, dbias = torch.empty_like(x), torch.empty_like(weight), torch.empty_like(bias)
    normgen_call = normgen.bind_batch_norm_backward(dy, x, weight, save_mean, save_invstd, dx,
                                                    dweight, dbias)

    def forward(x_, weight_, bias_):
        return F.batch_norm(x_, None, None, weight_, bias_, training=True, eps=EPS)

    # torch's mixed-precision convention again: float32 parameters.
    torch_call = torch_backward_call(forward, x, (weight.float(), bias.float()), dy)
    return prepared_backward(workload, forward, x, (weight, bias), dy, normgen_call,
                             (dx, dweight, dbias), torch_call)


def prepare(workload, normgen, device):
    preparers = {"layer_norm": prepare_layer_norm, "batch_norm": prepare_batch_norm,
                 "layer_norm_backward": prepare_layer_norm_backward,
                 "batch_norm_backward": prepare_batch_norm_backward}
    return preparers[workload.op](workload, normgen, device)


# ----------------------------------------------------------------- timing

ROUNDS = 7
BURST_MS = 20.0
WARMUP_MS = 20.0
WARMUP_CALLS = 10
MIN_BURST_CALLS = 3


class CudaTimer:
    """Times bursts of calls between two CUDA events on torch's current
    stream, the stream normgen runs on too."""

    def __init__(self):
        import torch

        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def burst(self, call, calls):
        """(GPU ms, host ms) of `calls` back-to-back calls; host ms is the
        time to enqueue them, near GPU ms where launching is the bottleneck."""
        self._start.record()
        host_start = time.perf_counter()
        for _ in range(calls):
            call()
        host_ms = (time.perf_counter() - host_start) * 1e3
        self._end.record()
        self._end.synchronize()
        return self._start.elapsed_time(self._end), host_ms


def warm_up(call, timer):
    """Calls at least WARMUP_CALLS times and for WARMUP_MS; the ms per call of the last batch."""
    batch, elapsed_ms = WARMUP_CALLS, 0.0
    while True:
        gpu_ms, _ = timer.burst(call, batch)
        elapsed_ms += gpu_ms
        if elapsed_ms >= WARMUP_MS:
            return gpu_ms / batch
        batch *= 2


@dataclass
class Timing:
    median_ms: float  # GPU time per call, the median over rounds
    host_ms: float  # host time per call to enqueue it, the median over rounds


def time_interleaved(calls, timer):
    """impl -> Timing: every impl warmed up, then ROUNDS rounds of one
    BURST_MS burst per impl in turn."""
    burst_calls = {}
    for impl, call in calls.items():
        per_call_ms = warm_up(call, timer)
        burst_calls[impl] = max(MIN_BURST_CALLS, round(BURST_MS / per_call_ms))
    gpu_samples = {impl: [] for impl in calls}
    host_samples = {impl: [] for impl in calls}
    for _ in range(ROUNDS):
        for impl, call in calls.items():
            gpu_ms, host_ms = timer.burst(call, burst_calls[impl])
            gpu_samples[impl].append(gpu_ms / burst_calls[impl])
            host_samples[impl].append(host_ms / burst_calls[impl])
    return {impl: Timing(statistics.median(gpu_samples[impl]), statistics.median(host_samples[impl]))
            for impl in calls}


# ---------------------------------------------------------------- results


@dataclass
class Result:
    workload: Workload
    timings: dict = field(default_factory=dict)  # impl -> Timing; empty if not timed
    wrong: list = field(default_factory=list)  # normgen's wrong results, or the error
    torch_wrong: list = field(default_factory=list)  # the sanity check of the reference

    def ms(self, impl):
        timing = self.timings.get(impl)
        return timing.median_ms if timing else None

    def ratio(self, numerator, denominator):
        if self.ms(numerator) is None or self.ms(denominator) is None:
            return None
        return self.ms(numerator) / self.ms(denominator)

    @property
    def speedup(self):
        """torch's time over normgen's: above 1, normgen is faster."""
        return self.ratio("torch-cuda", "normgen")

    @property
    def copy_fraction(self):
        """normgen's bandwidth as a fraction of the copy's."""
        return self.ratio("limit", "normgen")

    @property
    def gbps(self):
        ms = self.ms("normgen")
        return None if ms is None else self.workload.bytes_moved / (ms * 1e6)


def records(results):
    """The rows of gpu_results.json, in bench/report.py's schema."""
    rows = []
    for result in results:
        workload = result.workload
        for impl, timing in result.timings.items():
            record = {
                "op": workload.op, "shape": list(workload.shape), "layout": workload.layout,
                "mode": workload.mode, "dtype": workload.dtype, "threads": None, "impl": impl,
                "median_ms": timing.median_ms,
                "gbps": workload.bytes_moved / (timing.median_ms * 1e6),
                "bytes": workload.bytes_moved, "host_ms": timing.host_ms,
            }
            if workload.is_layer_norm:
                record["normalized_shape"] = list(workload.normalized_shape)
            rows.append(record)
    return rows


ABSENT = "—"
OP_TITLES = {"layer_norm": "LayerNorm forward", "batch_norm": "BatchNorm forward",
             "layer_norm_backward": "LayerNorm backward",
             "batch_norm_backward": "BatchNorm backward (training)"}


def fmt_ms(ms):
    if ms is None:
        return ABSENT
    # Three significant digits, trailing zeros kept so that columns line up.
    return f"{ms:.0f}" if ms >= 100 else f"{ms:#.3g}"


def fmt_x(value):
    return ABSENT if value is None else f"{value:.2f}x"


def fmt_percent(value):
    return ABSENT if value is None else f"{100 * value:.1f}%"


def fmt_speedup(value):
    # One more decimal than the tables, so that 1.296 against a bound of 1.3
    # does not read "1.30x: FAIL".
    return ABSENT if value is None else f"{value:.3f}x"


def check_cell(result):
    if result.wrong:
        return "WRONG"
    return "torch off" if result.torch_wrong else "ok"


def table(results):
    """A Markdown table of one op's results."""
    batch_norm = not results[0].workload.is_layer_norm
    columns = [("shape", lambda r: r.workload.shape_label)]
    if batch_norm:
        columns += [("layout", lambda r: r.workload.layout), ("mode", lambda r: r.workload.mode)]
    columns += [
        ("dtype", lambda r: r.workload.dtype),
        ("MiB", lambda r: f"{r.workload.bytes_moved / 2 / MIB:.1f}"),
        ("limit ms", lambda r: fmt_ms(r.ms("limit"))),
        ("normgen ms", lambda r: fmt_ms(r.ms("normgen"))),
        ("torch-cuda ms", lambda r: fmt_ms(r.ms("torch-cuda"))),
        ("normgen GB/s", lambda r: ABSENT if r.gbps is None else f"{r.gbps:.0f}"),
        ("vs torch", lambda r: fmt_x(r.speedup)),
        ("of copy bw", lambda r: fmt_percent(r.copy_fraction)),
        ("normgen host ms", lambda r: fmt_ms(r.timings["normgen"].host_ms) if r.timings else ABSENT),
        ("check", check_cell),
    ]
    text_columns = 4 if batch_norm else 2
    lines = ["| " + " | ".join(header for header, _ in columns) + " |",
             "|" + "|".join(":--" if i < text_columns else "--:" for i in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(cell(result) for _, cell in columns) + " |" for result in results]
    return lines


@dataclass
class Condition:
    name: str  # what the value is, e.g. "of copy bandwidth"
    value: object  # Result -> float or None
    bound: float  # the value must be >= bound
    fmt: object  # float -> str


SPEEDUP = "vs torch eager"


def target(title, results, conditions):
    """Markdown lines: PASS only if every result meets every condition; a
    result that was not timed fails."""
    if not results:
        return [f"- **NOT RUN** {title}: none of its cases is in this run"]
    failing = []
    for result in results:
        values = [(condition, condition.value(result)) for condition in conditions]
        if any(value is None or value < condition.bound for condition, value in values):
            measured = ", ".join(f"{condition.fmt(value)} {condition.name}"
                                 for condition, value in values)
            failing.append(f"  - {result.workload.label}: "
                           + (measured if result.timings else "not timed (wrong result)"))
    worst = []
    for condition in conditions:
        measured = [(condition.value(r), r) for r in results if condition.value(r) is not None]
        if measured:
            value, result = min(measured, key=lambda pair: pair[0])
            worst.append(f"worst {condition.fmt(value)} {condition.name} ({result.workload.label})")
    status = "FAIL" if failing else "PASS"
    cases = f"{len(results)} case{'s' if len(results) != 1 else ''}"
    return [f"- **{status}** {title}, {cases}: " + "; ".join(worst or ["nothing timed"])] + failing


def targets(results):
    copy = Condition("of copy bandwidth", lambda r: r.copy_fraction, 0.85, fmt_percent)
    layer_norm_speedup = Condition(SPEEDUP, lambda r: r.speedup, 1.3, fmt_speedup)
    batch_norm_speedup = Condition(SPEEDUP, lambda r: r.speedup, 1.5, fmt_speedup)
    any_speedup = Condition(SPEEDUP, lambda r: r.speedup, 1.0, fmt_speedup)
    layer_norm = [r for r in results if r.workload.op == "layer_norm"]
    training = [r for r in results if r.workload.op == "batch_norm" and r.workload.mode == "training"]
    forward = [r for r in results if not r.workload.backward]
    backward = [r for r in results if r.workload.backward]
    return (target("LayerNorm forward, bfloat16 and float32: >= 85% of copy bandwidth and "
                   ">= 1.3x faster than torch eager", layer_norm, [copy, layer_norm_speedup])
            + target("BatchNorm training forward, NCHW and NHWC, bfloat16 and float32: "
                     ">= 1.5x faster than torch eager", training, [batch_norm_speedup])
            + target("No forward case slower than torch eager", forward, [any_speedup])
            + target("Backward (issue 6), LayerNorm and BatchNorm training: >= 1.3x faster than "
                     "torch eager's autograd", backward, [layer_norm_speedup]))


def failure_lines(results):
    lines = []
    for result in results:
        lines += [f"- {result.workload.label}: {line}" for line in result.wrong]
        lines += [f"- {result.workload.label}, torch-cuda sanity check (the reference, the "
                  f"tolerance or torch is off): {line}" for line in result.torch_wrong]
    return lines


def report(results, environment, partial):
    """The Markdown of gpu_results.md, also what is printed."""
    lines = ["# normgen on the GPU", "",
             f"{environment['date']} on {environment['device']}"
             f" (compute capability {environment['capability']}), driver {environment['driver']}, "
             f"CUDA {environment['cuda']} (torch {environment['torch']}); "
             f"reproduce with `{environment['command']}`.", "",
             f"Times are medians over {ROUNDS} rounds of bursts of ~{BURST_MS:g} ms, timed with "
             "CUDA events (per call: the burst's time over its calls), the implementations "
             "interleaved within each round. *limit* is a device-to-device copy of the input "
             "(input read once, output written once: the bytes of every forward op here; for "
             "backward, `x + dy` into a third tensor: x and dy read, dx written); GB/s counts "
             "those bytes. Backward: torch eager is `torch.autograd.grad` through the op's graph "
             "(built once, untimed); normgen computes grad_input, grad_weight and grad_bias. *vs torch* is torch eager's time over normgen's (above 1x: normgen is "
             "faster); *of copy bw* is the copy's time over normgen's. *normgen host ms* is the "
             "CPU time to enqueue one call: near *normgen ms*, the call is launch-bound. "
             "torch's BatchNorm gets float32 weight, bias and running statistics (its "
             "mixed-precision convention); normgen gets weight and bias in the input's dtype."]
    for op in OP_TITLES:
        chosen = [r for r in results if r.workload.op == op]
        if chosen:
            lines += ["", f"## {OP_TITLES[op]}", ""] + table(chosen)
    failures = failure_lines(results)
    lines += ["", "## Correctness", ""]
    lines += failures or [f"Every result of the {len(results)} workloads matched the float64 reference."]
    lines += ["", "## Targets", ""]
    if partial:
        lines += ["A partial run (--quick or --only): each target is evaluated on the cases "
                  "run only.", ""]
    lines += targets(results)
    return lines


# ------------------------------------------------------------------- main


def driver_version():
    try:
        answer = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20, check=True)
        return answer.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown (nvidia-smi gave none)"


def describe_environment(command):
    import torch

    capability = torch.cuda.get_device_capability()
    return {"device": torch.cuda.get_device_name(), "capability": f"{capability[0]}.{capability[1]}",
            "torch": torch.__version__, "cuda": torch.version.cuda, "driver": driver_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command}


def run_workload(workload, normgen, timer):
    result = Result(workload)
    try:
        prepared = prepare(workload, normgen, "cuda")
        result.wrong, result.torch_wrong = prepared.check()
        if not result.wrong:
            result.timings = time_interleaved(prepared.calls, timer)
    except Exception as error:  # one workload's failure must not cost the others
        result.wrong.append(f"{type(error).__name__}: {error}")
    return result


def progress_line(started, index, total, result):
    line = f"[{time.perf_counter() - started:6.1f} s] {index}/{total} {result.workload.label}:"
    if result.wrong:
        line += " WRONG" + "".join(f"\n    {wrong}" for wrong in result.wrong)
    else:
        line += (f" normgen {fmt_ms(result.ms('normgen'))} ms ({result.gbps:.0f} GB/s, "
                 f"{fmt_percent(result.copy_fraction)} of copy), torch-cuda "
                 f"{fmt_ms(result.ms('torch-cuda'))} ms ({fmt_x(result.speedup)}), "
                 f"limit {fmt_ms(result.ms('limit'))} ms")
    return line + "".join(f"\n    sanity: {wrong}" for wrong in result.torch_wrong)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="normgen's CUDA kernels against PyTorch eager and a device-to-device copy: "
                    "checked against float64, then timed with CUDA events.")
    parser.add_argument("--library", required=True, help="path to libnormgen_c.so")
    parser.add_argument("--out", required=True, help="folder for gpu_results.json and gpu_results.md")
    parser.add_argument("--quick", action="store_true",
                        help="one LayerNorm and one BatchNorm shape, float32 only")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="only the workloads whose label (as printed, e.g. "
                             "'batch_norm_backward 128x256x28x28 nhwc') contains TEXT; repeatable")
    arguments = parser.parse_args(argv)
    if arguments.only and arguments.quick:
        parser.error("--only and --quick each pick the workloads: give one of them")
    return arguments


def main(argv):
    arguments = parse_arguments(argv[1:])
    sys.stdout.reconfigure(line_buffering=True)  # progress shows through pipes (tee) too
    started = time.perf_counter()
    try:
        normgen = Normgen(arguments.library)
    except OSError as error:
        print(f"gpu_bench: cannot load {arguments.library}: {error}", file=sys.stderr)
        return 1
    available, why_not = normgen.cuda_available()
    if not available:
        print(f"gpu_bench: normgen cannot run on CUDA here: {why_not}", file=sys.stderr)
        return 1
    import torch

    if not torch.cuda.is_available():
        print(f"gpu_bench: torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 1
    torch.cuda.init()
    stream = torch.cuda.current_stream().cuda_stream
    normgen.set_cuda_stream(stream)
    if normgen.cuda_stream() != stream:
        print(f"gpu_bench: normgen_cuda_stream() is {normgen.cuda_stream():#x} after setting "
              f"{stream:#x}", file=sys.stderr)
        return 1
    command = "python3 bench/gpu/gpu_bench.py " + " ".join(argv[1:])
    environment = describe_environment(command)
    print(f"{environment['device']} (compute capability {environment['capability']}), driver "
          f"{environment['driver']}, CUDA {environment['cuda']}, torch {environment['torch']}")

    workloads = suite(arguments.quick)
    if arguments.only:
        workloads = [w for w in workloads if any(text in w.label for text in arguments.only)]
        if not workloads:
            print(f"gpu_bench: no workload's label contains any of {arguments.only}",
                  file=sys.stderr)
            return 2
    timer = CudaTimer()
    results = []
    with torch.no_grad():
        for index, workload in enumerate(workloads, 1):
            results.append(run_workload(workload, normgen, timer))
            print(progress_line(started, index, len(workloads), results[-1]))

    os.makedirs(arguments.out, exist_ok=True)
    json_path = os.path.join(arguments.out, "gpu_results.json")
    with open(json_path, "w", encoding="utf-8") as file:
        json.dump({"schema": 1, **environment, "records": records(results),
                   "failures": failure_lines(results)}, file, indent=1)
        file.write("\n")
    lines = report(results, environment, arguments.quick or bool(arguments.only))
    md_path = os.path.join(arguments.out, "gpu_results.md")
    with open(md_path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    print(f"\nwrote {json_path} and {md_path} in {time.perf_counter() - started:.1f} s")
    # torch is the anchor, not the code under test: where it misses the
    # float64 result (its own rounding order in 16-bit types, say) that is
    # reported, but only normgen's results decide the exit status.
    if any(r.torch_wrong for r in results):
        print("gpu_bench: note: torch-cuda missed the float64 result somewhere (see Correctness)")
    all_right = not any(r.wrong for r in results)
    print("gpu_bench: every normgen result matched the float64 reference" if all_right
          else "gpu_bench: FAILED: some normgen results are wrong (see Correctness)")
    return 0 if all_right else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
