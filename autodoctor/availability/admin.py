from django.contrib import admin

from .models import DateOverride, MechanicSettings, TimeOff, WeeklyBlock, WorkshopHours


@admin.register(WeeklyBlock)
class WeeklyBlockAdmin(admin.ModelAdmin):
    list_display = ["mechanic", "day_of_week", "start_minute", "end_minute"]
    list_filter = ["day_of_week"]
    search_fields = ["mechanic__user__email", "mechanic__user__full_name"]
    list_select_related = ["mechanic__user"]
    autocomplete_fields = ["mechanic"]


@admin.register(WorkshopHours)
class WorkshopHoursAdmin(admin.ModelAdmin):
    list_display = [
        "workshop",
        "day_of_week",
        "is_open",
        "open_minute",
        "close_minute",
        "break_start_minute",
        "break_end_minute",
    ]
    list_filter = ["day_of_week", "is_open", "workshop"]
    search_fields = ["workshop__name"]
    list_select_related = ["workshop"]


@admin.register(DateOverride)
class DateOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "mechanic", "workshop", "start_minute", "end_minute", "note"]
    list_filter = ["day"]
    search_fields = ["mechanic__user__email", "workshop__name", "note"]
    list_select_related = ["mechanic__user", "workshop"]
    autocomplete_fields = ["mechanic", "workshop"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["mechanic", "starts_at", "ends_at", "status", "reason"]
    list_filter = ["status", "all_day"]
    search_fields = ["mechanic__user__email", "mechanic__user__full_name", "reason"]
    list_select_related = ["mechanic__user"]
    autocomplete_fields = ["mechanic"]
    date_hierarchy = "starts_at"


@admin.register(MechanicSettings)
class MechanicSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "mechanic",
        "buffer_minutes",
        "min_notice_minutes",
        "max_advance_days",
        "slot_step_minutes",
        "allow_instant_booking",
    ]
    list_filter = ["allow_instant_booking"]
    search_fields = ["mechanic__user__email"]
    list_select_related = ["mechanic__user"]
    autocomplete_fields = ["mechanic"]
