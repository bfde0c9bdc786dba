"""The demo multi-layer perceptron: training (PyTorch, else scikit-learn) and float inference.

A model is a plain list of layers ``[(W, b), ...]``: ``W`` float32 of shape
``(out_features, in_features)`` (the core's A operand, sparsity along ``in_features``),
``b`` float32 of shape ``(out_features,)``. Hidden layers use ReLU; the last layer's
outputs are the class logits.

Default shape: 64 → 256 → 256 → 10. The hidden widths are multiples of the core's tile
(``tile_k = 16`` along K, ``tile_m = 4`` along M), so they need no padding; the 10 output
rows are padded to 12 with zero weights when the model is quantized for the core
(:mod:`sparsecore.quant`).

Training uses a maintained library, never hand-written back-propagation:

* **PyTorch** (CPU, one thread) when it is installed: ``nn.Linear`` layers with PyTorch's
  default initialisation under ``torch.manual_seed(seed)``, cross-entropy loss, Adam.
* **scikit-learn** ``MLPClassifier`` otherwise, one ``partial_fit`` call per mini-batch
  (same loss, optimizer, learning rate and batch size).

Both are deterministic for a given seed: mini-batches come from
``numpy.random.default_rng(seed + epoch)`` permutations. When ``masks`` are given (pruning
and retraining), the weights are multiplied by them before training and after **every**
optimizer step, so pruned weights stay exactly zero.
"""

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["TrainConfig", "DEFAULT_SIZES", "torch_available", "train", "logits",
           "accuracy", "apply_masks", "sparsity"]

#: Layer widths of the demo MLP, input first.
DEFAULT_SIZES = (64, 256, 256, 10)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; dense training and every retraining use the same ones."""
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr!r}")

    def as_dict(self):
        return asdict(self)


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend="auto"):
    """``"torch"`` or ``"sklearn"``: which library :func:`train` uses for ``backend``."""
    if backend == "auto":
        return "torch" if torch_available() else "sklearn"
    if backend not in ("torch", "sklearn"):
        raise ValueError(f"training backend must be 'auto', 'torch' or 'sklearn', "
                         f"not {backend!r}")
    if backend == "torch" and not torch_available():
        raise ValueError("training backend 'torch' requested but torch is not installed "
                         "(pip install -e '.[torch]')")
    return backend


def apply_masks(layers, masks):
    """``layers`` with each ``W`` multiplied by its mask (``None`` masks leave it alone)."""
    if masks is None:
        return [(W.copy(), b.copy()) for W, b in layers]
    return [((W * m).astype(np.float32) if m is not None else W.copy(), b.copy())
            for (W, b), m in zip(layers, masks, strict=True)]


def sparsity(layers):
    """Fraction of zero weights over all layers (biases excluded)."""
    total = sum(W.size for W, _ in layers)
    return float(sum(int((W == 0).sum()) for W, _ in layers) / total)


def logits(layers, x):
    """Float forward pass in NumPy (float64): ``x`` (samples, features) → (samples, classes)."""
    h = np.asarray(x, dtype=np.float64)
    for i, (W, b) in enumerate(layers):
        h = h @ W.astype(np.float64).T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def accuracy(layers, x, y):
    return float((logits(layers, x).argmax(axis=1) == y).mean())


def _batches(n, batch_size, seed, epoch):
    order = np.random.default_rng(seed + epoch).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train(data, config, *, sizes=DEFAULT_SIZES, init=None, masks=None, backend="auto",
          progress=None):
    """Train the MLP on ``data.x_train`` / ``data.y_train``.

    Parameters
    ----------
    data : sparsecore.data.Dataset
    config : TrainConfig
    sizes : tuple of int
        Layer widths, input first (used when ``init`` is ``None``).
    init : list of (W, b), optional
        Start from these weights (retraining) instead of a fresh initialisation.
    masks : list of bool arrays or None, optional
        One per layer, ``W``'s shape; re-applied after every optimizer step.
    backend : {"auto", "torch", "sklearn"}
    progress : callable, optional
        ``progress(epoch, loss)`` after every epoch (the CLI's progress bar).

    Returns
    -------
    list of (W, b)
        float32 arrays; masked weights are exactly zero.
    """
    backend = resolve_backend(backend)
    if init is not None:
        sizes = (init[0][0].shape[1],) + tuple(W.shape[0] for W, _ in init)
    if sizes[0] != data.num_features or sizes[-1] != data.num_classes:
        raise ValueError(f"model sizes {sizes} do not fit the data: "
                         f"{data.num_features} features, {data.num_classes} classes")
    if masks is not None:
        for i, (m, W) in enumerate(zip(masks, init or [None] * len(masks))):
            if m is not None and W is not None and m.shape != W[0].shape:
                raise ValueError(f"mask {i} has shape {m.shape}, layer {i} {W[0].shape}")
    fit = _train_torch if backend == "torch" else _train_sklearn
    return fit(data, config, sizes, init, masks, progress)


def _train_torch(data, config, sizes, init, masks, progress):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    linears = [torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    modules = []
    for i, lin in enumerate(linears):
        modules.append(lin)
        if i < len(linears) - 1:
            modules.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*modules).double()
    tmasks = None
    with torch.no_grad():
        if init is not None:
            for lin, (W, b) in zip(linears, init):
                lin.weight.copy_(torch.from_numpy(np.asarray(W, dtype=np.float64)))
                lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)))
        if masks is not None:
            tmasks = [None if m is None else torch.from_numpy(m.astype(np.float64))
                      for m in masks]
            for lin, m in zip(linears, tmasks):
                if m is not None:
                    lin.weight.mul_(m)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.from_numpy(data.x_train.astype(np.float64))
    y = torch.from_numpy(data.y_train)
    for epoch in range(config.epochs):
        total = 0.0
        for idx in _batches(len(y), config.batch_size, config.seed, epoch):
            idx = torch.from_numpy(idx)
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
            if tmasks is not None:
                with torch.no_grad():
                    for lin, m in zip(linears, tmasks):
                        if m is not None:
                            lin.weight.mul_(m)
            total += loss.item() * len(idx)
        if progress is not None:
            progress(epoch, total / len(y))
    return [(lin.weight.detach().numpy().astype(np.float32),
             lin.bias.detach().numpy().astype(np.float32)) for lin in linears]


def _train_sklearn(data, config, sizes, init, masks, progress):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu",
                        solver="adam", alpha=0.0, batch_size=config.batch_size,
                        learning_rate_init=config.lr, random_state=config.seed)
    classes = np.arange(data.num_classes)
    x, y = data.x_train, data.y_train

    def set_weights(layers):
        for i, (W, b) in enumerate(layers):
            clf.coefs_[i][...] = W.T           # in place: Adam holds these very arrays
            clf.intercepts_[i][...] = b

    def reapply():
        if masks is not None:
            for i, m in enumerate(masks):
                if m is not None:
                    clf.coefs_[i] *= m.T

    first = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(config.epochs):
            total = 0.0
            for idx in _batches(len(y), config.batch_size, config.seed, epoch):
                clf.batch_size = len(idx)      # one partial_fit call = one Adam step
                if first:
                    # The first call builds the network and Adam's state; the initial
                    # weights then replace sklearn's (one step on this batch is lost).
                    clf.partial_fit(x[idx], y[idx], classes=classes)
                    if init is not None:
                        set_weights(init)
                    reapply()
                    first = False
                    continue
                clf.partial_fit(x[idx], y[idx])
                reapply()
                total += float(clf.loss_) * len(idx)
            if progress is not None:
                progress(epoch, total / len(y))
    return [(c.T.astype(np.float32).copy(), i.astype(np.float32).copy())
            for c, i in zip(clf.coefs_, clf.intercepts_)]
