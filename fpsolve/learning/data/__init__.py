"""Training sets: :class:`Dataset`, the paper's regression set and loaders (digits, IDX)."""

from .datasets import Dataset, as_dataset, load_regression, paper_regression
from .digits import load_digits, load_idx

__all__ = ["Dataset", "as_dataset", "load_digits", "load_idx", "load_regression",
           "paper_regression"]
