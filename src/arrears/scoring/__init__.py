"""Scoring: propensity to pay and roll risk, with reason codes, a model registry and drift monitoring.

Two model families (a points scorecard and LightGBM), cross-validated the same way, explained the
same way (reason codes per account), stored the same way (JSON models in a registry with one
promoted model per purpose) and watched the same way (PSI and matured-outcome AUC/KS).
"""

from arrears.scoring import tables as _tables  # noqa: F401  (registers the registry tables)
from arrears.scoring.calibration import Calibration, Calibrator, fit_calibrator
from arrears.scoring.cv import CVResult, FoldScore, ModelKind, ModelSummary, cross_validate
from arrears.scoring.data import FeatureKind, load_table, prepare_target
from arrears.scoring.features import (
    DEFAULT_DENY_LIST,
    FEATURE_COLUMNS,
    INPUT_COLUMNS,
    build_features,
    check_allowed,
    denied_features,
)
from arrears.scoring.gbm import GBMConfig, GBMModel, fit_gbm
from arrears.scoring.metrics import ReliabilityBin, auc, brier, gini, ks, reliability_table
from arrears.scoring.monitoring import (
    PSI_WARNING,
    MaturedPerformance,
    StabilityBins,
    StabilityResult,
    matured_performance,
    population_stability,
    psi,
)
from arrears.scoring.reasons import reason_frame, top_reasons
from arrears.scoring.registry import (
    FileRegistry,
    ModelPurpose,
    RegistryAction,
    RegistryEvent,
    TrainedModel,
    fingerprint_frame,
    train_model,
)
from arrears.scoring.scorecard import FeatureBins, Scorecard, ScorecardConfig, fit_scorecard

__all__ = [
    "DEFAULT_DENY_LIST",
    "FEATURE_COLUMNS",
    "INPUT_COLUMNS",
    "PSI_WARNING",
    "CVResult",
    "Calibration",
    "Calibrator",
    "FeatureBins",
    "FeatureKind",
    "FileRegistry",
    "FoldScore",
    "GBMConfig",
    "GBMModel",
    "MaturedPerformance",
    "ModelKind",
    "ModelPurpose",
    "ModelSummary",
    "RegistryAction",
    "RegistryEvent",
    "ReliabilityBin",
    "Scorecard",
    "ScorecardConfig",
    "StabilityBins",
    "StabilityResult",
    "TrainedModel",
    "auc",
    "brier",
    "build_features",
    "check_allowed",
    "cross_validate",
    "denied_features",
    "fingerprint_frame",
    "fit_calibrator",
    "fit_gbm",
    "fit_scorecard",
    "gini",
    "ks",
    "load_table",
    "matured_performance",
    "population_stability",
    "prepare_target",
    "psi",
    "reason_frame",
    "reliability_table",
    "top_reasons",
    "train_model",
]
