"""URL roots: dashboard tabs, admin, API (with schema and Swagger UI) and the health probe."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from optionsdesk import views
from optionsdesk.api.views import HealthView, StatusView

system_patterns = ([path("", views.system_health, name="health")], "system")

api_patterns: list[URLPattern | URLResolver] = [
    path("status", StatusView.as_view(), name="api-status"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("trading.api.urls")),
    path("", include("trading.api.chat_urls")),
    path("", include("backtests.api.urls")),
    path("", include("calibration.api.urls")),
    path("", include("greg.api.urls")),
    path("", include("steward.api.urls")),
    path("", include("reviewbot.api.urls")),
]

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api_patterns)),
    path("system/", include(system_patterns)),
    path("backtests/", include("backtests.urls")),
    path("calibration/", include("calibration.urls")),
    path("steward/", include("steward.urls")),
    path("", include("greg.urls")),
    path("", include("trading.urls")),
]

# Under /api/ errors Django answers itself come in the API's JSON envelope too.
handler400 = "optionsdesk.api.errors.bad_request"
handler403 = "optionsdesk.api.errors.permission_denied"
handler404 = "optionsdesk.api.errors.page_not_found"
handler500 = "optionsdesk.api.errors.server_error"
