"""sparsecore's model flow: train, prune (2:4, unstructured, tile-wise), quantize to int8 and
run an MLP on the golden model and the RTL; the ``sparsecore`` command (``sparsecore.cli``).
See docs/model_flow.md."""
