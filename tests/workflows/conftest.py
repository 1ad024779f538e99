import copy

import pytest

from apps.workflows import definitions, exchange

from .helpers import with_automated_staging


@pytest.fixture
def definition():
    """A fresh, editable copy of the ML deployment document."""
    return copy.deepcopy(definitions.ML_DEPLOYMENT)


@pytest.fixture
def ml_template(team, skills, trainer, ml_reviewer, lead):
    return exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)


@pytest.fixture
def ml_automated_template(team, skills, trainer, ml_reviewer, lead):
    """The ML template with both staging and deploy automated (see with_automated_staging)."""
    return exchange.import_template(with_automated_staging(definitions.ML_DEPLOYMENT), team=team)


GOOD_INPUTS = {"model": "churn-v3", "metrics": {"auc": 0.91}, "thresholds": {"auc": 0.85}}
