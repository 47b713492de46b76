"""Models with per-sample gradients and Hessians, the one model-kernel dispatch, and minima.

Built-in models (:class:`RegressionNetwork`, :class:`LinearRegression`,
:class:`SoftmaxRegression`, :class:`MLPClassifier`) and user models all reach the chain kernels
through :class:`~fpsolve.learning.models.dispatch.ModelKernel`.
"""

from .dispatch import BATCH_SIGNATURE, ModelKernel
from .gradient import GradientModel, LinearRegression, RegressionNetwork, SoftmaxRegression
from .minimum import Minimum, find_minimum
from .mlp import MLPClassifier

__all__ = ["BATCH_SIGNATURE", "GradientModel", "LinearRegression", "MLPClassifier", "Minimum",
           "ModelKernel", "RegressionNetwork", "SoftmaxRegression", "find_minimum"]
