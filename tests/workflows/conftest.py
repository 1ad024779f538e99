import copy

import pytest

from apps.people.models import Role
from apps.workflows import definitions, exchange

from ..factories import PersonSkillFactory, SkillFactory
from .helpers import with_automated_staging


@pytest.fixture
def skills(db):
    return {
        "ml-training": SkillFactory(slug="ml-training"),
        "ml-review": SkillFactory(slug="ml-review", is_review_skill=True),
        "python": SkillFactory(slug="python"),
        "devops": SkillFactory(slug="devops"),
        "support": SkillFactory(slug="support"),
        "writing": SkillFactory(slug="writing"),
    }


@pytest.fixture
def trainer(make_member, skills):
    user = make_member(username="tara", capacity=5)
    PersonSkillFactory(user=user, skill=skills["ml-training"], level=4)
    return user


@pytest.fixture
def ml_reviewer(make_member, skills):
    user = make_member(Role.REVIEWER, username="rex", capacity=5)
    PersonSkillFactory(user=user, skill=skills["ml-review"], level=4)
    return user


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
