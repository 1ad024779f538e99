"""Demo people: two teams, a dozen people with skills, levels, capacities and one on time off."""

from datetime import timedelta

from django.utils import timezone

from .models import Membership, PersonSkill, Role, Skill, Team, TimeOff, User

DEMO_PASSWORD = "relay-demo"

SKILLS = [
    ("python", "Python", False),
    ("ml-training", "ML training", False),
    ("data-eng", "Data engineering", False),
    ("ml-review", "ML review", True),
    ("code-review", "Code review", True),
    ("devops", "DevOps", False),
    ("frontend", "Front-end", False),
    ("writing", "Writing", False),
    ("editing", "Editing", True),
    ("support", "Support", False),
]

# username, first, last, capacity, team slug, role, {skill: level}
PEOPLE = [
    (
        "ada",
        "Ada",
        "Lovelace",
        4,
        "data-science",
        Role.LEAD,
        {"python": 5, "ml-training": 4, "ml-review": 5},
    ),
    (
        "grace",
        "Grace",
        "Hopper",
        3,
        "data-science",
        Role.REVIEWER,
        {"python": 4, "ml-review": 4, "data-eng": 3},
    ),
    (
        "alan",
        "Alan",
        "Turing",
        3,
        "data-science",
        Role.MEMBER,
        {"python": 5, "ml-training": 5, "data-eng": 2},
    ),
    (
        "katherine",
        "Katherine",
        "Johnson",
        3,
        "data-science",
        Role.MEMBER,
        {"python": 3, "ml-training": 3, "data-eng": 4},
    ),
    (
        "margaret",
        "Margaret",
        "Hamilton",
        2,
        "data-science",
        Role.REVIEWER,
        {"python": 4, "ml-review": 3, "writing": 3},
    ),
    (
        "john",
        "John",
        "von Neumann",
        3,
        "data-science",
        Role.MEMBER,
        {"python": 4, "ml-training": 4},
    ),
    (
        "linus",
        "Linus",
        "Torvalds",
        4,
        "platform",
        Role.LEAD,
        {"python": 3, "devops": 5, "code-review": 5},
    ),
    (
        "barbara",
        "Barbara",
        "Liskov",
        3,
        "platform",
        Role.REVIEWER,
        {"python": 5, "code-review": 4, "frontend": 2, "editing": 3},
    ),
    ("ken", "Ken", "Thompson", 3, "platform", Role.MEMBER, {"devops": 4, "python": 3}),
    ("radia", "Radia", "Perlman", 2, "platform", Role.MEMBER, {"devops": 3, "support": 4}),
    (
        "guido",
        "Guido",
        "van Rossum",
        3,
        "platform",
        Role.MEMBER,
        {"python": 5, "frontend": 3, "writing": 3},
    ),
    (
        "joan",
        "Joan",
        "Clarke",
        3,
        "platform",
        Role.MEMBER,
        {"support": 3, "writing": 4, "editing": 4},
    ),
]

TEAMS = [
    ("data-science", "Data Science", "Trains, evaluates and ships models."),
    ("platform", "Platform", "Releases, infrastructure, docs and support."),
]


def seed() -> dict:
    skills = {}
    for slug, name, is_review in SKILLS:
        skills[slug], _ = Skill.objects.get_or_create(
            slug=slug, defaults={"name": name, "is_review_skill": is_review}
        )
    teams = {}
    for slug, name, description in TEAMS:
        teams[slug], _ = Team.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
    users = {}
    for username, first, last, capacity, team, role, levels in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@relay.example",
                "capacity": capacity,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[username] = user
        Membership.objects.get_or_create(team=teams[team], user=user, defaults={"role": role})
        for skill, level in levels.items():
            PersonSkill.objects.get_or_create(
                user=user, skill=skills[skill], defaults={"level": level}
            )
    # Ada reviews for Platform too: one person in two teams.
    Membership.objects.get_or_create(
        team=teams["platform"], user=users["ada"], defaults={"role": Role.REVIEWER}
    )
    if not TimeOff.objects.filter(user=users["john"]).exists():
        now = timezone.now()
        TimeOff.objects.create(
            user=users["john"],
            starts=now - timedelta(days=2),
            ends=now + timedelta(days=5),
            reason="Conference",
        )
    admin, created = User.objects.get_or_create(
        username="admin",
        defaults={"is_staff": True, "is_superuser": True, "email": "admin@relay.example"},
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])
    return {"skills": skills, "teams": teams, "users": users}
