import pytest

from apps.people.models import Role

from ..factories import PersonSkillFactory, SkillFactory


@pytest.fixture
def skill(db):
    return SkillFactory(slug="ml", name="ML")


@pytest.fixture
def review_skill(db):
    return SkillFactory(slug="ml-review", name="ML review", is_review_skill=True)


@pytest.fixture
def make_person(make_member, skill):
    """A team member with `level` in the ML skill (None: no skill at all)."""

    def make(username, *, level=3, role=Role.MEMBER, skill_=None, **fields):
        user = make_member(role, username=username, **fields)
        if level is not None:
            PersonSkillFactory(user=user, skill=skill_ or skill, level=level)
        return user

    return make


@pytest.fixture
def ml_task(make_task, skill):
    def make(**fields):
        fields.setdefault("required_skill", skill)
        fields.setdefault("min_level", 3)
        return make_task(**fields)

    return make
