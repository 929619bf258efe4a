"""PyTorch's side of the LeNet training-throughput benchmark (bench/lenet/run).

    python bench/lenet/torch_lenet.py --norm ln --batch 64 --threads 2 --steps 50

Trains the demo's network (conv 5x5 1->20, norm, ReLU, maxpool 2x2, conv 5x5
20->50, norm, ReLU, maxpool 2x2, linear 800->500, ReLU, linear 500->10;
softmax cross-entropy) with SGD on Fashion-MNIST, or on random data of the
same shape with --synthetic, and prints one JSON line:

    {"impl": "torch", "torch_version": ..., "norm": ..., "batch": ...,
     "threads": ..., "steps": ..., "seconds": ..., "median_step_seconds": ...,
     "images_per_second": ..., "final_loss": ...}

Only the --steps timed steps count, each one forward, loss, backward,
optimizer step and zero_grad on a batch sliced before timing starts, so that
the figure is training alone, as for the normgen side (demo/lenet benchmark).
Each step is timed apart and images_per_second is the batch over the median
step: a step that the shared machine slowed does not move it.
"""

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
IMAGE_SIDE = 28
CLASSES = 10
# Fashion-MNIST's training set size, which --synthetic imitates.
SYNTHETIC_IMAGES = 60000
LEARNING_RATE = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def norm_layer(norm, channels, side):
    """The norm after a convolution whose output is channels x side x side."""
    if norm == "ln":
        return nn.LayerNorm([channels, side, side], eps=1e-5)
    if norm == "bn":
        return nn.BatchNorm2d(channels, eps=1e-5)
    return nn.Identity()


def lenet(norm):
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), norm_layer(norm, 20, 24), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5), norm_layer(norm, 50, 8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(800, 500), nn.ReLU(),
        nn.Linear(500, CLASSES),
    )


def read_idx(path, magic, dims):
    """The uint8 array of a gzip IDX file, shaped as its header says."""
    data = gzip.decompress(path.read_bytes())
    header_bytes = 4 * (1 + dims)
    header = np.frombuffer(data, dtype=">u4", count=1 + dims)
    if header[0] != magic:
        raise ValueError(f"{path}: magic number {header[0]}, expected {magic}")
    shape = tuple(int(d) for d in header[1:])
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape)


def fashion_mnist(data_dir):
    """Training images as uint8 N x 28 x 28 and their labels."""
    images = read_idx(data_dir / TRAIN_IMAGES, IDX_IMAGES_MAGIC, 3)
    labels = read_idx(data_dir / TRAIN_LABELS, IDX_LABELS_MAGIC, 1)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or len(images) != len(labels):
        raise ValueError(f"{data_dir}: {images.shape} images with {labels.shape} labels, "
                         f"expected N x {IMAGE_SIDE} x {IMAGE_SIDE} images with N labels")
    return images, labels


def synthetic(rng):
    """Random pixels and labels in the shapes of fashion_mnist's."""
    images = rng.integers(0, 256, (SYNTHETIC_IMAGES, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    return images, rng.integers(0, CLASSES, SYNTHETIC_IMAGES, dtype=np.uint8)


def batches(images, labels, batch, count, rng):
    """count (images, labels) batches from a shuffle of the uint8 training set,
    as float32 B x 1 x 28 x 28 in [0, 1] and int64 B; when the set holds fewer
    full batches, they repeat in order, as in a second epoch."""
    distinct = min(count, len(images) // batch)
    if distinct == 0:
        raise ValueError(f"--batch {batch} exceeds the {len(images)} training images")
    # Only the images used are converted: the whole set as float32 is 188 MB.
    chosen = rng.permutation(len(images))[:distinct * batch]
    image_tensor = torch.from_numpy(images[chosen, None].astype(np.float32) / 255)
    label_tensor = torch.from_numpy(labels[chosen].astype(np.int64))
    unique = [(image_tensor[i * batch:(i + 1) * batch], label_tensor[i * batch:(i + 1) * batch])
              for i in range(distinct)]
    return [unique[i % distinct] for i in range(count)]


def train_step(model, optimizer, images, labels):
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--norm", choices=("ln", "bn", "none"), default="ln")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before the timed ones")
    parser.add_argument("--steps", type=int, default=50, help="timed steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", action="store_true",
                        help="random images and labels instead of Fashion-MNIST")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR,
                        help=f"folder of {TRAIN_IMAGES} and {TRAIN_LABELS}")
    arguments = parser.parse_args()
    for name in ("batch", "threads", "steps"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(arguments, name)}")
    if arguments.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {arguments.warmup}")
    return arguments


def main():
    arguments = parse_arguments()
    # The inter-op pool can only be sized before its first use; one thread
    # there keeps all parallelism in the intra-op pool that --threads sizes.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(arguments.seed)
    rng = np.random.default_rng(arguments.seed)

    images, labels = synthetic(rng) if arguments.synthetic else fashion_mnist(arguments.data_dir)
    data = batches(images, labels, arguments.batch, arguments.warmup + arguments.steps, rng)
    model = lenet(arguments.norm)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY)

    for batch_images, batch_labels in data[:arguments.warmup]:
        train_step(model, optimizer, batch_images, batch_labels)
    step_seconds = []
    for batch_images, batch_labels in data[arguments.warmup:]:
        start = time.perf_counter()
        loss = train_step(model, optimizer, batch_images, batch_labels)
        step_seconds.append(time.perf_counter() - start)
    seconds = sum(step_seconds)
    median_step = statistics.median(step_seconds)

    print(json.dumps({
        "impl": "torch",
        "torch_version": torch.__version__,
        "norm": arguments.norm,
        "batch": arguments.batch,
        "threads": arguments.threads,
        "steps": arguments.steps,
        "seconds": seconds,
        "median_step_seconds": median_step,
        "images_per_second": arguments.batch / median_step,
        "final_loss": loss.item(),
    }), flush=True)


if __name__ == "__main__":
    main()
