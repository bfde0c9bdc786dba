"""sparsecore command-line tools: the model flow and the helpers around the core."""
