"""API routes of the backtests app."""

from rest_framework.routers import SimpleRouter

from backtests.api.training import TrainingRunViewSet
from backtests.api.views import BacktestRunViewSet, SelectorStudyViewSet

router = SimpleRouter(trailing_slash=False)
router.register("backtests/studies", SelectorStudyViewSet, basename="selector-study")
router.register("backtests/training", TrainingRunViewSet, basename="training-run")
router.register("backtests", BacktestRunViewSet, basename="backtest-run")

urlpatterns = router.urls
