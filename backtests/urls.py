"""Dashboard routes of the backtests app."""

from django.urls import path

from backtests import lab_views, training_views, views

app_name = "backtests"
urlpatterns = [
    path("", views.index, name="index"),
    path("compare/", views.compare, name="compare"),
    path("studies/", views.studies, name="studies"),
    path("studies/<int:study_id>/", views.study_detail, name="study"),
    path("training/", training_views.training, name="training"),
    path("training/<int:run_id>/", training_views.training_run, name="training-run"),
    path(
        "training/<int:run_id>/download/<str:kind>/",
        training_views.training_download,
        name="training-download",
    ),
    path("environment/", lab_views.environment, name="environment"),
    path("studies/<int:study_id>/regime/", lab_views.regime, name="regime"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="progress"),
    path("runs/<int:run_id>/stop/", views.run_stop, name="stop"),
    path("runs/<int:run_id>/delete/", views.run_delete, name="delete"),
    path("runs/<int:run_id>/use-live/", views.cell_use_live, name="use-live"),
    path("runs/<int:run_id>/rerun/", views.cell_rerun, name="rerun"),
]
