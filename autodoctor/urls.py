from django.contrib import admin
from django.urls import include, path

from autodoctor.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("autodoctor.accounts.urls")),
    path("accounts/", include("autodoctor.accounts.password_urls")),
    path("availability/", include("autodoctor.availability.urls")),
    path("booking/", include("autodoctor.booking.urls")),
    path("payments/", include("autodoctor.payments.urls")),
    path("notifications/", include("autodoctor.notifications.urls")),
    path("workshops/", include("autodoctor.workshops.urls")),
    path("analytics/", include("autodoctor.analytics.urls")),
    path("mechanics/", include("autodoctor.directory.urls")),
    path("integrations/", include("autodoctor.integrations.urls")),
    path("", include("autodoctor.web.urls")),
]

handler403 = "autodoctor.web.views.error_403"
handler404 = "autodoctor.web.views.error_404"
handler500 = "autodoctor.web.views.error_500"
