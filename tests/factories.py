import factory
from factory.django import DjangoModelFactory

from apps.people.models import Membership, PersonSkill, Role, Skill, Team, TimeOff, User
from apps.tasks.models import Task
from apps.tasks.positions import FIRST_POSITION

PASSWORD = "pw-for-tests-1"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    capacity = 3
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class SkillFactory(DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"skill-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())


class PersonSkillFactory(DjangoModelFactory):
    class Meta:
        model = PersonSkill

    user = factory.SubFactory(UserFactory)
    skill = factory.SubFactory(SkillFactory)
    level = 3


class TimeOffFactory(DjangoModelFactory):
    class Meta:
        model = TimeOff

    user = factory.SubFactory(UserFactory)


class TaskFactory(DjangoModelFactory):
    class Meta:
        model = Task

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    # Below the ones made before it, as create_task puts a new task (apps.tasks.positions).
    position = factory.Sequence(lambda n: FIRST_POSITION + n)
