from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.utils.translation import gettext_lazy as _

from .models import Membership, PersonSkill, Skill, Team, TimeOff, User
from .services import announce_availability_changed


class PersonSkillInline(admin.TabularInline):
    model = PersonSkill
    extra = 0
    autocomplete_fields = ["skill"]


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["team"]


class UserChangeForm(BaseUserChangeForm):
    class Meta(BaseUserChangeForm.Meta):
        model = User

    def clean_capacity(self):
        capacity = self.cleaned_data["capacity"]
        if self.instance.pk and capacity < self.instance.active_count:
            raise forms.ValidationError(
                _(
                    "%(name)s has %(active)d active tasks; finish or reassign some before "
                    "lowering capacity below that."
                )
                % {"name": self.instance.display_name, "active": self.instance.active_count}
            )
        return capacity


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    list_display = ["username", "display_name", "email", "capacity", "active_count", "is_away"]
    list_filter = ["is_away", "is_staff", "is_active", "memberships__team", "skills__skill"]
    search_fields = ["username", "first_name", "last_name", "email"]
    readonly_fields = ["active_count", "last_assigned_at"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Workload"), {"fields": ("capacity", "active_count", "is_away", "last_assigned_at")}),
    )
    inlines = [MembershipInline, PersonSkillInline, TimeOffInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # More capacity, back from away, time off or skills edited: someone may now fit a
        # task that is waiting. Retried once the whole save has committed.
        if change and (
            {"capacity", "is_away"} & set(form.changed_data)
            or any(f.has_changed() for f in formsets)
        ):
            announce_availability_changed(user=form.instance)


class TeamMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "joined_at"]
    list_filter = ["team", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_review_skill"]
    list_filter = ["is_review_skill"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(PersonSkill)
class PersonSkillAdmin(admin.ModelAdmin):
    list_display = ["user", "skill", "level"]
    list_filter = ["skill", "level"]
    search_fields = ["user__username", "skill__name"]
    autocomplete_fields = ["user", "skill"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["user", "starts", "ends", "reason"]
    list_filter = ["starts"]
    search_fields = ["user__username", "reason"]
    autocomplete_fields = ["user"]
