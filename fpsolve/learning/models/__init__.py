"""Models with per-sample gradients and Hessians, the one model-kernel dispatch, and minima.

Built-in models (:class:`RegressionNetwork`, :class:`LinearRegression`,
:class:`SoftmaxRegression`, :class:`LogisticRegression`, :class:`MLPClassifier`) and user models
(:class:`UserModel`) all reach the chain kernels
through :class:`~fpsolve.learning.models.dispatch.ModelKernel`.
"""

from .dispatch import BATCH_SIGNATURE, ModelKernel
from .gradient import (GradientModel, LinearRegression, LogisticRegression, RegressionNetwork,
                       SoftmaxRegression)
from .minimum import Minimum, find_minimum
from .mlp import MLPClassifier
from .user import UserModel

__all__ = ["BATCH_SIGNATURE", "GradientModel", "LinearRegression", "LogisticRegression",
           "MLPClassifier", "Minimum", "ModelKernel", "RegressionNetwork", "SoftmaxRegression",
           "UserModel", "find_minimum"]
