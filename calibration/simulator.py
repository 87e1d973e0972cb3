"""The simulated exchange over the synthetic universe v2 (`run_exchange_sim --market v2`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from calibration.domain.universe_v2 import RegimeDynamics, RegimeMarketModel
from trading.deribit.simulator import SimConfig, SimulatedExchange
from trading.deribit.simulator.market import MarketView, SyntheticMarket


class RegimeSimulatedExchange(SimulatedExchange):
    """`SimulatedExchange` whose market is `RegimeMarketModel` (v1 stays the default class)."""

    def __init__(self, config: SimConfig, *, regimes: Mapping[str, RegimeDynamics]) -> None:
        self._v2_regimes = dict(regimes)
        super().__init__(config)

    def _build_market(self) -> MarketView:
        if self.config.replay_dir is not None:
            return super()._build_market()
        start = self.config.start or datetime.now(tz=UTC)
        model = RegimeMarketModel(
            self.config.market_params,
            seed=self.config.seed,
            start=start,
            regimes=self._v2_regimes,
        )
        return SyntheticMarket(model)


def exchange_v2(config: SimConfig) -> SimulatedExchange:
    """A v2 exchange with the newest fitted regimes and smiles from the database."""
    from calibration.selectors import market_params_v2, regime_dynamics

    regimes = regime_dynamics()
    if not regimes:
        raise ValueError("no regimes fitted yet: run `manage.py fit_regimes` first")
    return RegimeSimulatedExchange(
        config.model_copy(update={"market_params": market_params_v2()}), regimes=regimes
    )
