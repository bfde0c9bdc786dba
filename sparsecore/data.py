"""The demo data set: scikit-learn's handwritten digits, with a fixed train/test split.

The digits ship inside scikit-learn (no download): 1797 images of 8×8 pixels with
intensities 0…16, ten classes. Features are the 64 pixels scaled to [0, 1] (divided by
16), as float32.

**Split** (fixed, independent of any random generator or library version): sample ``i``
(in scikit-learn's order) is a test sample when ``i % 5 == 4``, else a training sample,
which gives 1438 training and 359 test samples, about 36 per class in the test split.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "load_digits", "TEST_EVERY", "PIXEL_MAX"]

#: Every ``TEST_EVERY``-th sample (index ``% TEST_EVERY == TEST_EVERY - 1``) is a test sample.
TEST_EVERY = 5
#: Largest pixel intensity of the digits; features are ``pixels / PIXEL_MAX``.
PIXEL_MAX = 16.0


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays: ``x_*`` float32 (samples, features), ``y_*`` int64 labels."""
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def num_features(self):
        return self.x_train.shape[1]

    def test_slice(self, limit=None):
        """The first ``limit`` test samples (all when ``None``)."""
        if limit is None:
            return self.x_test, self.y_test
        if limit < 1:
            raise ValueError(f"test limit must be at least 1, not {limit}")
        return self.x_test[:limit], self.y_test[:limit]


def load_digits():
    """Load the digits with the documented split (see the module docstring)."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.data / PIXEL_MAX).astype(np.float32)
    y = bunch.target.astype(np.int64)
    test = np.arange(len(y)) % TEST_EVERY == TEST_EVERY - 1
    return Dataset("sklearn digits (8x8, 10 classes)", x[~test], y[~test], x[test], y[test],
                   num_classes=10)
