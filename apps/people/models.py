"""People: who is on which team, what they can do, and how much they can take on."""

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    capacity = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(50)],
        help_text=_("How many active tasks (assigned, in progress, in review) this person takes."),
    )
    # Kept by apps.tasks.services on every transition that changes who holds an active task;
    # the check constraint below makes the database refuse an over-capacity write, so two
    # concurrent assignments can never both squeeze into the last free slot.
    active_count = models.PositiveSmallIntegerField(default=0, editable=False)
    is_away = models.BooleanField(
        default=False, help_text=_("Away: not offered new work until this is cleared.")
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(active_count__lte=F("capacity")),
                name="user_active_within_capacity",
                violation_error_message=_("This person is at capacity."),
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def initials(self) -> str:
        parts = [p for p in (self.first_name, self.last_name) if p]
        if parts:
            return "".join(p[0] for p in parts).upper()
        return self.username[:2].upper()


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("boards:task_list", kwargs={"team_slug": self.slug})


class Role(models.TextChoices):
    MEMBER = "member", _("Member")
    REVIEWER = "reviewer", _("Reviewer")
    LEAD = "lead", _("Lead")


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team"),
        ]
        ordering = ["team", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} · {self.team} ({self.get_role_display()})"

    @property
    def can_review(self) -> bool:
        return self.role in (Role.REVIEWER, Role.LEAD)

    @property
    def is_lead(self) -> bool:
        return self.role == Role.LEAD


class Skill(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    is_review_skill = models.BooleanField(
        default=False,
        help_text=_("A reviewing skill (e.g. ml-review): review steps must require one."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PersonSkill(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="holders")
    level = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "skill"], name="one_level_per_skill"),
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=5), name="skill_level_1_to_5"
            ),
        ]
        ordering = ["skill__name"]

    def __str__(self) -> str:
        return f"{self.user}: {self.skill} {self.level}/5"


class TimeOff(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="time_off")
    starts = models.DateTimeField()
    ends = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=F("starts")),
                name="time_off_ends_after_start",
                violation_error_message=_("Time off must end after it starts."),
            ),
        ]
        verbose_name_plural = _("time off")

    def __str__(self) -> str:
        return f"{self.user}: {self.starts:%Y-%m-%d} → {self.ends:%Y-%m-%d}"


class TeamVersion(models.Model):
    """A counter that goes up in the same transaction as every change that shows on the team's
    pages (a task, its comments and log, a member's name, the WIP limits…). Written only by
    database triggers (apps.people.version_triggers), so no code path — a service, the admin,
    a queryset's update() — can change what the team's pages show and leave it behind. An
    unchanged counter means unchanged pages: what polls answer 304 on and caches are keyed on."""

    team = models.OneToOneField(
        Team, primary_key=True, on_delete=models.CASCADE, related_name="version"
    )
    n = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.team_id}: {self.n}"


class PersonVersion(models.Model):
    """The same for what one person's header shows (My work and review counts, unread
    notifications) and their own settings: bumped for the old and new assignee and reviewer
    of a changed task, their memberships, notifications, saved views."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="version"
    )
    n = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.n}"
